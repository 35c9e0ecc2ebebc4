-- The editable playbook. Rules with project_id NULL are the installation's
-- (the firm's); a project's own rules either add to them (evaluated first)
-- or, with overrides_rule_id, replace one installation rule for that
-- project (enabled = false turns it off there). priority is the order of a
-- scope's list, dense and unique after this migration.
ALTER TABLE playbook_rules
    ADD COLUMN project_id         uuid REFERENCES projects(id) ON DELETE CASCADE,
    ADD COLUMN overrides_rule_id  uuid REFERENCES playbook_rules(id) ON DELETE CASCADE,
    ADD COLUMN preferred_position text NOT NULL DEFAULT '',  -- the firm's position, offered when negotiating
    ADD COLUMN fallback_wording   text NOT NULL DEFAULT '',  -- wording the firm can accept instead
    ADD COLUMN created_at         timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN updated_by         uuid REFERENCES users(id) ON DELETE SET NULL,
    ADD CONSTRAINT playbook_rules_override_in_project CHECK (overrides_rule_id IS NULL OR project_id IS NOT NULL);
CREATE INDEX playbook_rules_scope_idx ON playbook_rules (project_id, priority);
CREATE UNIQUE INDEX playbook_rules_override_key ON playbook_rules (project_id, overrides_rule_id)
    WHERE overrides_rule_id IS NOT NULL;

-- One order, the one the worker used: by priority, then category; specific
-- patterns before a category's catch-all.
UPDATE playbook_rules r SET priority = o.n * 10
FROM (SELECT id, row_number() OVER (ORDER BY priority, category, pattern = '', pattern, id) AS n FROM playbook_rules) o
WHERE o.id = r.id;

-- Starting positions for the default rules' categories; firms edit them.
UPDATE playbook_rules r SET preferred_position = v.preferred, fallback_wording = v.fallback
FROM (VALUES
    ('Uncapped Liability',
     'Each party''s total liability under this Agreement shall not exceed the fees paid or payable in the twelve (12) months preceding the claim.',
     'Liability for breach of confidentiality and indemnification obligations shall not exceed three (3) times the fees paid or payable in the twelve (12) months preceding the claim.'),
    ('Cap on Liability',
     'Each party''s aggregate liability shall not exceed the fees paid or payable in the twelve (12) months preceding the event giving rise to the claim.',
     'The cap shall not apply to a party''s gross negligence, wilful misconduct or fraud, but shall apply to all other claims.'),
    ('Non-Compete',
     'Neither party shall be restricted from developing, marketing or selling products or services of any kind.',
     'During the Term only, and only within the Territory, [Party] shall not sell products that directly compete with the Products.'),
    ('Termination for Convenience',
     'Either party may terminate this Agreement for convenience on ninety (90) days'' written notice.',
     'If [Counterparty] terminates for convenience, it shall pay for all work performed and committed costs up to the effective date of termination.'),
    ('Exclusivity',
     'The rights granted under this Agreement are non-exclusive.',
     'Exclusivity applies only within the Territory, for the initial term, and ends if the minimum purchase commitments are not met.'),
    ('IP Ownership Assignment',
     'Each party retains all intellectual property it owned before or develops independently of this Agreement.',
     'Deliverables specific to [Customer] are assigned on full payment; [Supplier] retains its pre-existing and general-purpose materials and grants a license to use them with the Deliverables.'),
    ('Irrevocable or Perpetual License',
     'The license is granted for the Term and ends on expiry or termination of this Agreement.',
     'The license survives termination only for copies made before termination, and may be revoked for uncured material breach.'),
    ('Notice Period to Terminate Renewal',
     'Either party may prevent renewal by written notice given at least thirty (30) days before the end of the then-current term.',
     '[Supplier] shall remind [Customer] in writing of the renewal date at least thirty (30) days before the notice deadline.'),
    ('Renewal Term',
     'This Agreement expires at the end of the Term unless the parties agree in writing to renew it.',
     'This Agreement renews for successive one (1) year terms unless either party gives notice of non-renewal at least thirty (30) days before the end of the then-current term.'),
    ('Audit Rights',
     'Audits take place at most once per year, on thirty (30) days'' notice, during business hours, at the auditing party''s cost.',
     'The audited party bears the cost of an audit only if it reveals an underpayment of more than five percent (5%).'),
    ('Change of Control',
     'A change of control of either party does not require consent and gives no right to terminate.',
     'The other party may terminate on a change of control only if the acquirer is its direct competitor.'),
    ('Anti-Assignment',
     'Either party may assign this Agreement without consent to an affiliate or to a successor of its business.',
     'Consent to assignment shall not be unreasonably withheld, conditioned or delayed.'),
    ('Liquidated Damages',
     'Damages are limited to the actual loss proven.',
     'Liquidated damages are the sole remedy for the delay and are capped at ten percent (10%) of the fees.'),
    ('Most Favored Nation',
     'Pricing is as set out in this Agreement, without reference to other customers.',
     'The most-favored pricing applies only to customers buying comparable volumes on comparable terms.'),
    ('Governing Law',
     'This Agreement is governed by the laws of [our jurisdiction], and its courts have exclusive jurisdiction.',
     'Disputes are resolved by arbitration in a neutral venue under rules both parties accept.')
) AS v(category, preferred, fallback)
WHERE r.category = v.category AND r.project_id IS NULL AND r.preferred_position = '' AND r.fallback_wording = '';

-- Re-assessments: a worker job that applies the current playbook to the
-- clauses of the complete documents of one project (project_id) or of every
-- project (NULL), without running the rest of the pipeline.
CREATE TABLE playbook_reassessments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid REFERENCES projects(id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'complete', 'failed')),
    documents_total integer NOT NULL DEFAULT 0,
    documents_done  integer NOT NULL DEFAULT 0,
    clauses_changed integer NOT NULL DEFAULT 0,
    error_message   text,
    requested_by    uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    completed_at    timestamptz
);
CREATE INDEX playbook_reassessments_created_idx ON playbook_reassessments (created_at DESC);
