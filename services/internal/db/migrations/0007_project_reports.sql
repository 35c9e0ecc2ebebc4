-- Reports of a whole project (every document of it) share document_reports
-- with the per-document reports: one queue job kind, one download route, one
-- set of file references for backups. Exactly one subject per row.
ALTER TABLE document_reports
    ALTER COLUMN document_id DROP NOT NULL,
    ADD COLUMN project_id uuid REFERENCES projects(id) ON DELETE CASCADE,
    ADD CONSTRAINT document_reports_one_subject CHECK ((document_id IS NULL) <> (project_id IS NULL));
CREATE INDEX document_reports_project_idx ON document_reports (project_id, created_at DESC) WHERE project_id IS NOT NULL;
