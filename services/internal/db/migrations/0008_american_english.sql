-- The default playbook's wording in American English, as the rest of the
-- product; a rule a firm has reworded is left as it is.
UPDATE playbook_rules
SET explanation = 'A most-favored-nation clause ties pricing or terms to what others are offered.'
WHERE explanation = 'A most-favoured-nation clause ties pricing or terms to what others are offered.';
