-- Contract Lucidity schema, version 1.
-- The documents table is the source of truth for the pipeline: the Redis
-- queue only carries hints, and a sweep re-enqueues what Redis lost.

CREATE EXTENSION IF NOT EXISTS pgcrypto; -- gen_random_uuid() (built into PG13+, kept for clarity)

CREATE TABLE users (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email                text NOT NULL,
    name                 text NOT NULL DEFAULT '',
    password_hash        text NOT NULL,
    role                 text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    must_change_password boolean NOT NULL DEFAULT false,
    disabled             boolean NOT NULL DEFAULT false,
    last_login           timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE projects (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_by  uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX projects_name_key ON projects (lower(name));

CREATE TABLE project_members (
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user_idx ON project_members (user_id);

CREATE TABLE documents (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id       uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    original_name    text NOT NULL,            -- display only; never a path
    file_type        text NOT NULL,            -- detected from content: pdf, docx, png, jpg, jpeg, tiff
    mime_type        text NOT NULL DEFAULT '',
    size_bytes       bigint NOT NULL,
    sha256           text NOT NULL,
    storage_key      text NOT NULL,            -- server-chosen, relative to STORAGE_PATH
    pipeline_status  text NOT NULL DEFAULT 'queued'
                     CHECK (pipeline_status IN ('queued','extracting','classifying','analyzing','embedding','complete','failed')),
    progress         integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    error_message    text,
    attempts         integer NOT NULL DEFAULT 0,      -- pipeline attempts (incremented by the worker when it claims the job)
    enqueued_at      timestamptz NOT NULL DEFAULT now(), -- last time a job was put on the queue (sweep uses it)
    facts            jsonb NOT NULL DEFAULT '{}'::jsonb, -- document-level facts (worker "classifying" stage)
    extracted_text   text,                          -- worker output of the "extracting" stage
    page_count       integer,
    tokens_used      integer NOT NULL DEFAULT 0,    -- AI provider tokens spent on this document
    analyzer         text NOT NULL DEFAULT '',      -- e.g. "offline/v1" or "openai:gpt-4o-mini"
    uploaded_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz
);
CREATE INDEX documents_project_created_idx ON documents (project_id, created_at DESC, id);
CREATE INDEX documents_pending_idx ON documents (pipeline_status, enqueued_at)
    WHERE pipeline_status NOT IN ('complete', 'failed');

-- Embeddings are stored as float4[] so the schema works on any PostgreSQL;
-- when the pgvector extension is available a later migration step adds a
-- vector column and an HNSW index (see db.EnableVector).
CREATE TABLE clauses (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id   uuid NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal       integer NOT NULL,
    heading       text NOT NULL DEFAULT '',
    category      text NOT NULL,               -- CUAD category name, or 'Other'
    confidence    real NOT NULL DEFAULT 0,
    text          text NOT NULL,
    risk_level    text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high')),
    explanation   text NOT NULL DEFAULT '',
    embedding     real[],
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, ordinal)              -- idempotent re-runs replace, never duplicate
);
CREATE INDEX clauses_document_idx ON clauses (document_id, ordinal);
CREATE INDEX clauses_category_idx ON clauses (category);
CREATE INDEX clauses_text_search_idx ON clauses USING gin (to_tsvector('english', text));

CREATE TABLE clause_decisions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    clause_id   uuid NOT NULL REFERENCES clauses(id) ON DELETE CASCADE,
    decision    text NOT NULL CHECK (decision IN ('accept', 'reject', 'negotiate')),
    comment     text NOT NULL DEFAULT '',
    decided_by  uuid REFERENCES users(id) ON DELETE SET NULL,
    decided_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clause_decisions_clause_idx ON clause_decisions (clause_id, decided_at DESC);

CREATE TABLE document_reports (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id   uuid NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'complete', 'failed')),
    html_key      text,                        -- relative to STORAGE_PATH
    pdf_key       text,
    error_message text,
    requested_by  uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX document_reports_document_idx ON document_reports (document_id, created_at DESC);

CREATE TABLE system_config (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_by uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_providers (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL UNIQUE,
    kind              text NOT NULL CHECK (kind IN ('openai', 'anthropic')), -- openai = any OpenAI-compatible API
    base_url          text NOT NULL,
    model             text NOT NULL DEFAULT '',
    embedding_model   text NOT NULL DEFAULT '',
    api_key_encrypted bytea,                   -- AES-256-GCM with ENCRYPTION_KEY; never returned
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_capability_mappings (
    capability  text PRIMARY KEY CHECK (capability IN
                ('extraction_classification', 'document_understanding', 'reasoning', 'generation', 'embeddings')),
    provider_id uuid REFERENCES ai_providers(id) ON DELETE SET NULL,
    model       text NOT NULL DEFAULT '',      -- overrides the provider's default model
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  text NOT NULL UNIQUE,          -- SHA-256 of the opaque token
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,                   -- set when exchanged for a new token
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    event_type  text NOT NULL,                 -- login_failed, login_succeeded, token_manipulation, token_expired, permission_denied, ...
    user_id     uuid REFERENCES users(id) ON DELETE SET NULL,
    email       text,
    ip          text,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_created_idx ON audit_events (created_at DESC);
CREATE INDEX audit_events_type_idx ON audit_events (event_type, created_at DESC);

-- The risk playbook: default positions, editable by admins later.
CREATE TABLE playbook_rules (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    category    text NOT NULL,
    pattern     text NOT NULL DEFAULT '',      -- case-insensitive regular expression; empty = any clause of the category
    risk_level  text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high')),
    explanation text NOT NULL,
    priority    integer NOT NULL DEFAULT 100,
    enabled     boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
