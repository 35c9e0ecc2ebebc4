-- Default risk playbook (generated from analysis.DefaultRules; do not edit by hand).
-- Idempotent: rows already present (same category and pattern) are left alone,
-- so admins' edits survive re-running migrations.
INSERT INTO playbook_rules (category, pattern, risk_level, explanation, priority)
SELECT v.category, v.pattern, v.risk_level, v.explanation, v.priority
FROM (VALUES
    ('*', 'unlimited liability|no limit(ation)? (on|of|to) (its |their |the )?liability|liability (shall|will) (be )?unlimited', 'high', 'The clause leaves a party''s liability unlimited.', 10),
    ('Uncapped Liability', '', 'high', 'Liability for some breaches is uncapped, so losses could exceed the value of the contract.', 50),
    ('Cap on Liability', 'shall not apply|will not apply|except (for|with respect to|in the case of)|excluding', 'medium', 'The liability cap has carve-outs that leave some claims uncapped.', 20),
    ('Cap on Liability', '', 'low', 'Liability is capped; check that the cap amount is adequate.', 50),
    ('Non-Compete', 'worldwide|anywhere in the world|throughout the (world|united states)|any (business|product|service)|(two|three|four|five|ten|\d+) \(?\d*\)? ?years? (after|following|from)', 'high', 'A broad non-compete restricts business by scope, territory or duration beyond the contract.', 20),
    ('Non-Compete', '', 'medium', 'The clause restricts a party from competing.', 50),
    ('Termination for Convenience', 'either party|each party|both parties|any party|mutual', 'medium', 'Either party may end the contract without cause on notice.', 20),
    ('Termination for Convenience', '', 'high', 'A party may terminate for convenience, without cause, leaving the other without the expected term.', 50),
    ('Irrevocable or Perpetual License', '', 'high', 'The license is irrevocable or perpetual and cannot be withdrawn later.', 50),
    ('Unlimited/All-You-Can-Eat-License', '', 'high', 'The license grants unlimited usage, with no volume or fee control.', 50),
    ('License Grant', 'irrevocabl|perpetual|unlimited|royalty[- ]free|fully[- ]paid', 'medium', 'The license grant is broad (irrevocable, perpetual, unlimited or royalty-free).', 20),
    ('Notice Period to Terminate Renewal', '\b(6\d|[7-9]\d|[1-9]\d\d)\)? (calendar |business )?days|sixty|ninety|one hundred|(three|four|five|six|nine|twelve) \(?\d*\)? ?months', 'high', 'Stopping the automatic renewal requires a long notice period that is easy to miss.', 20),
    ('Notice Period to Terminate Renewal', '', 'medium', 'A notice deadline must be met to stop the contract renewing.', 50),
    ('Renewal Term', 'automatic|renew(s|ed)? (itself )?(automatically|for (successive|additional))|evergreen', 'medium', 'The contract renews automatically unless a party gives notice in time.', 20),
    ('Exclusivity', '', 'high', 'An exclusivity commitment stops a party dealing with others.', 50),
    ('Most Favored Nation', '', 'medium', 'A most-favoured-nation clause ties pricing or terms to what others are offered.', 50),
    ('IP Ownership Assignment', '', 'high', 'Intellectual property created under the contract is assigned to the other party.', 50),
    ('Joint IP Ownership', '', 'medium', 'Jointly owned intellectual property is hard to exploit or license alone.', 50),
    ('Liquidated Damages', '', 'medium', 'Fixed damages or a termination fee are payable regardless of actual loss.', 50),
    ('Audit Rights', '', 'medium', 'The counterparty may audit books, records or premises.', 50),
    ('Change of Control', '', 'medium', 'A merger or change of ownership triggers consent, notice or termination rights.', 50),
    ('Anti-Assignment', '', 'low', 'Assignment needs consent or notice; check that affiliate transfers are allowed.', 50),
    ('No-Solicit of Customers', '', 'medium', 'A party may not solicit the other''s customers.', 50),
    ('No-Solicit of Employees', '', 'medium', 'A party may not solicit or hire the other''s staff.', 50),
    ('Non-Disparagement', '', 'medium', 'A party must not disparage the other.', 50),
    ('Covenant Not to Sue', '', 'medium', 'A party gives up the right to challenge or sue over certain matters.', 50),
    ('Rofr/Rofo/Rofn', '', 'medium', 'A right of first refusal, offer or negotiation limits future deals with third parties.', 50),
    ('Minimum Commitment', '', 'medium', 'A minimum purchase or volume commitment applies regardless of need.', 50),
    ('Volume Restriction', '', 'medium', 'Usage above a threshold costs more or needs consent.', 50),
    ('Price Restrictions', '', 'medium', 'Prices cannot be changed freely.', 50),
    ('Third Party Beneficiary', '', 'medium', 'A non-party can enforce rights under the contract.', 50),
    ('Post-Termination Services', '', 'low', 'Obligations continue after termination or expiry.', 50),
    ('Source Code Escrow', '', 'low', 'Source code is deposited in escrow for release on defined events.', 50),
    ('Governing Law', '', 'low', 'Sets the law that governs the contract.', 50)
) AS v(category, pattern, risk_level, explanation, priority)
WHERE NOT EXISTS (
    SELECT 1 FROM playbook_rules r WHERE r.category = v.category AND r.pattern = v.pattern
);
