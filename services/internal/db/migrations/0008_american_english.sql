-- American English in the default playbook texts. Only rows that still hold
-- the shipped wording change; a firm's own edits are left alone.
UPDATE playbook_rules
SET explanation = 'A most-favored-nation clause ties pricing or terms to what others are offered.'
WHERE project_id IS NULL
  AND explanation = 'A most-favoured-nation clause ties pricing or terms to what others are offered.';

UPDATE playbook_rules
SET fallback_wording = 'The cap shall not apply to a party''s gross negligence, willful misconduct or fraud, but shall apply to all other claims.'
WHERE project_id IS NULL
  AND fallback_wording = 'The cap shall not apply to a party''s gross negligence, wilful misconduct or fraud, but shall apply to all other claims.';
