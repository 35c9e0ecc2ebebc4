package backend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/events"
	"github.com/contract-lucidity/contract-lucidity/services/internal/filetype"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
)

type documentJSON struct {
	ID             string          `json:"id" format:"uuid"`
	ProjectID      string          `json:"project_id" format:"uuid"`
	OriginalName   string          `json:"original_name"`
	FileType       string          `json:"file_type" enum:"pdf,docx,png,jpeg,tiff"`
	SizeBytes      int64           `json:"size_bytes"`
	SHA256         string          `json:"sha256"`
	PipelineStatus string          `json:"pipeline_status" enum:"queued,extracting,classifying,analyzing,embedding,complete,failed"`
	Progress       int             `json:"progress"`
	ErrorMessage   *string         `json:"error_message"`
	Facts          json.RawMessage `json:"facts"`
	PageCount      *int            `json:"page_count"`
	ClauseCount    int64           `json:"clause_count"`
	TokensUsed     int             `json:"tokens_used"`
	Analyzer       string          `json:"analyzer"`
	UploadedBy     *string         `json:"uploaded_by" format:"uuid"`
	CreatedAt      time.Time       `json:"created_at"`
	CompletedAt    *time.Time      `json:"completed_at"`
}

const documentColumns = `d.id, d.project_id, d.original_name, d.file_type, d.size_bytes, d.sha256, d.pipeline_status,
	d.progress, d.error_message, d.facts, d.page_count,
	d.clause_count, d.tokens_used, d.analyzer, d.uploaded_by,
	d.created_at, d.completed_at`

// scanDocument reads documentColumns. Facts are scanned as bytes: as a
// json.RawMessage pgx would parse the JSON the database already validated.
func scanDocument(row pgx.Row) (documentJSON, error) {
	var d documentJSON
	err := row.Scan(&d.ID, &d.ProjectID, &d.OriginalName, &d.FileType, &d.SizeBytes, &d.SHA256, &d.PipelineStatus,
		&d.Progress, &d.ErrorMessage, (*[]byte)(&d.Facts), &d.PageCount, &d.ClauseCount, &d.TokensUsed, &d.Analyzer, &d.UploadedBy,
		&d.CreatedAt, &d.CompletedAt)
	return d, err
}

// documentAccess returns a document's project and the caller's role there;
// a document the caller cannot see is errNotFound.
func (s *Server) documentAccess(ctx context.Context, p *principal, documentID string) (projectID, role string, err error) {
	var member *string
	err = s.pool.QueryRow(ctx, `SELECT d.project_id, pm.role FROM documents d
		LEFT JOIN project_members pm ON pm.project_id = d.project_id AND pm.user_id = $2
		WHERE d.id = $1`, documentID, p.ID).Scan(&projectID, &member)
	if err != nil {
		return "", "", err // ErrNoRows becomes 404
	}
	switch {
	case p.admin():
		return projectID, "admin", nil
	case member == nil:
		return "", "", errNotFound
	}
	return projectID, *member, nil
}

func (s *Server) handleListDocuments(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	limit, offset, err := pagination(r, 50, 200)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p := caller(r)
	// One round trip in the common case: the visibility check is part of
	// the query, the total is an index-only count. An empty result is
	// disambiguated (invisible project => 404) afterwards.
	rows, err := s.pool.Query(ctx, `SELECT `+documentColumns+`, (SELECT count(*) FROM documents WHERE project_id = $1)
		FROM documents d WHERE d.project_id = $1
		AND ($4 OR EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = $1 AND pm.user_id = $5))
		ORDER BY d.created_at DESC, d.id LIMIT $2 OFFSET $3`, id, limit, offset, p.admin(), p.ID)
	if err != nil {
		return err
	}
	var total int64
	items := []documentJSON{}
	for rows.Next() {
		var d documentJSON
		if err := rows.Scan(&d.ID, &d.ProjectID, &d.OriginalName, &d.FileType, &d.SizeBytes, &d.SHA256, &d.PipelineStatus,
			&d.Progress, &d.ErrorMessage, (*[]byte)(&d.Facts), &d.PageCount, &d.ClauseCount, &d.TokensUsed, &d.Analyzer, &d.UploadedBy,
			&d.CreatedAt, &d.CompletedAt, &total); err != nil {
			rows.Close()
			return err
		}
		items = append(items, d)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(items) == 0 {
		if _, err := s.projectRole(ctx, p, id); err != nil {
			return err
		}
		if offset > 0 {
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE project_id = $1`, id).Scan(&total); err != nil {
				return err
			}
		}
	}
	writeJSON(w, http.StatusOK, page[documentJSON]{Items: items, Total: total})
	return nil
}

func (s *Server) handleGetDocument(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := s.authorize(r, s.documentRole, "", "")
	if err != nil {
		return err
	}
	d, err := scanDocument(s.pool.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents d WHERE d.id = $1`, id))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// uploadForm is the multipart form handleUpload reads, in this order: the
// project_id part must come first (the caller's right to upload is checked
// before any file byte is read), then the file part, streamed to the store
// with a size limit, hashed on the way, and typed by content.
type uploadForm struct {
	ProjectID string `json:"project_id" format:"uuid"`
	File      []byte `json:"file" format:"binary"`
}

func (uploadForm) mediaType() string { return "multipart/form-data" }

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	ctx := r.Context()
	if err := s.rateLimit(ctx, limitUpload, "upload:user:"+p.ID, s.cfg.RateLimitUploadPerMinute); err != nil {
		return err
	}
	u, ok := s.uploads.begin(w, r)
	if !ok {
		return errShuttingDown
	}
	defer s.uploads.end(u)
	// Answered (and flushed) while still tracked: shutdown waits for the
	// answer before it closes the connection.
	if err := s.receiveUpload(w, r, u); err != nil {
		if errors.Is(err, errShuttingDown) {
			w.Header().Set("Connection", "close")
		}
		s.writeError(w, r, err)
		_ = u.rc.Flush()
	}
	return nil
}

func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request, u *upload) error {
	p := caller(r)
	ctx := r.Context()
	settings, err := s.loadSettings(ctx)
	if err != nil {
		return err
	}
	limit := min(int64(settings.MaxUploadSizeMB)<<20, s.cfg.MaxUploadBytes())
	if r.ContentLength > limit+1<<20 {
		return errStatus(http.StatusRequestEntityTooLarge, "file exceeds the upload limit of %d MB", limit>>20)
	}
	// The whole body may not exceed the limit plus room for the form.
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return unprocessable("multipart/form-data body required")
	}
	var projectID string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return unprocessable("file part is required")
		}
		if err != nil {
			return u.readError(err)
		}
		switch part.FormName() {
		case "project_id":
			b, err := io.ReadAll(io.LimitReader(part, 100))
			if err != nil {
				return u.readError(err)
			}
			projectID = strings.ToLower(strings.TrimSpace(string(b)))
			if !validUUID(projectID) {
				return errNotFound
			}
			role, err := s.projectRole(ctx, p, projectID)
			if err != nil {
				return err
			}
			if err := s.require(r, role, "editor", "upload document"); err != nil {
				return err
			}
		case "file":
			if projectID == "" {
				return unprocessable("project_id must come before file in the form")
			}
			return s.storeUpload(w, r, u, part, projectID, part.FileName(), limit, settings.SupportedFileTypes)
		}
		part.Close()
	}
}

// uploadReader reads the file part for the store: it counts and hashes
// what passes, fails with errTooLarge beyond the limit, and marks the
// client's read errors (clientError) so they are told apart from the
// store's.
type uploadReader struct {
	r     io.Reader
	h     hash.Hash
	n     int64
	limit int64
}

var errTooLarge = errors.New("upload too large")

// clientError is an error reading the client's body.
type clientError struct{ err error }

func (e *clientError) Error() string { return e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

func (u *uploadReader) Read(b []byte) (int, error) {
	n, err := u.r.Read(b)
	u.h.Write(b[:n])
	u.n += int64(n)
	if u.n > u.limit {
		return n, errTooLarge
	}
	if err != nil && err != io.EOF {
		err = &clientError{err}
	}
	return n, err
}

// storeUpload types the file by its first bytes (refusing what is not
// allowed before anything is stored), then streams it to the store at its
// final key: the store's Put is all or nothing, so an upload cut short, too
// large or refused leaves no file. A DOCX (a ZIP archive) is inspected once
// stored, through random access to the stored object. The row is inserted
// only once the file is stored, and a failed insert removes the file: no
// row is ever without its file.
func (s *Server) storeUpload(w http.ResponseWriter, r *http.Request, u *upload, part io.Reader, projectID, clientName string,
	limit int64, supported []string) error {
	ctx := u.ctx
	p := caller(r)
	h := sha256.New()
	body := &uploadReader{r: part, h: h, limit: limit}
	head := make([]byte, filetype.HeadSize)
	n, err := io.ReadFull(body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return s.uploadReadError(ctx, u, err)
	}
	if n == 0 {
		return unprocessable("the file is empty")
	}
	ftype, err := filetype.Sniff(head[:n])
	if ftype == "zip" {
		ftype = filetype.DOCX // confirmed below, once stored
	}
	if err != nil || !filetype.Allowed(ftype, supported) {
		s.log.Info("upload refused", "reason", "unsupported type", "detected", ftype, "user_id", p.ID)
		return errStatus(http.StatusUnsupportedMediaType, "unsupported file type; allowed: %s", strings.Join(supported, ", "))
	}
	if !extensionMatches(clientName, ftype) {
		s.log.Info("upload refused", "reason", "extension does not match content", "detected", ftype, "user_id", p.ID)
		return errStatus(http.StatusUnsupportedMediaType, "file content (%s) does not match its name", ftype)
	}
	id := newUUID()
	key := storage.DocumentKey(id)
	size, err := s.store.Put(ctx, key, io.MultiReader(bytes.NewReader(head[:n]), body), -1)
	var ce *clientError
	switch {
	case errors.Is(err, errTooLarge):
		return errStatus(http.StatusRequestEntityTooLarge, "file exceeds the upload limit of %d MB", limit>>20)
	case errors.As(err, &ce) || (err != nil && ctx.Err() != nil):
		return s.uploadReadError(ctx, u, err)
	case err != nil:
		return s.storageError(ctx, "store", err)
	}
	// From here on the file is stored: every refusal removes it.
	stored := false
	defer func() {
		if !stored {
			if err := s.store.Remove(context.WithoutCancel(ctx), key); err != nil {
				s.log.Warn("could not remove a refused upload", "key", key, "error", err)
			}
		}
	}()
	if ftype == filetype.DOCX {
		if err := s.inspectDOCX(ctx, key); err != nil {
			var se *storageFailure
			if errors.As(err, &se) {
				return s.storageError(ctx, "inspect", se.err)
			}
			s.log.Info("upload refused", "reason", "zip archive is not a Word document", "user_id", p.ID)
			return errStatus(http.StatusUnsupportedMediaType, "unsupported file type; allowed: %s", strings.Join(supported, ", "))
		}
	}
	name := displayName(clientName, ftype)
	d, err := scanDocument(s.pool.QueryRow(ctx, `WITH d AS (
		INSERT INTO documents (id, project_id, original_name, file_type, mime_type, size_bytes, sha256, storage_key, uploaded_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *)
		SELECT `+documentColumns+` FROM d`,
		id, projectID, name, ftype, filetype.MIME(ftype), size, hex.EncodeToString(h.Sum(nil)), key, p.ID))
	if err != nil {
		return err
	}
	stored = true
	s.enqueue(ctx, queue.Job{Kind: queue.KindDocument, ID: id})
	s.publish(ctx, d)
	writeJSON(w, http.StatusAccepted, d)
	return nil
}

// inspectDOCX confirms that the stored ZIP archive at key is a Word
// document. An error reading the store is a *storageFailure.
func (s *Server) inspectDOCX(ctx context.Context, key string) error {
	f, err := s.store.Open(ctx, key)
	if err != nil {
		return &storageFailure{err}
	}
	defer f.Close()
	ra := &failingReaderAt{r: f}
	if err := filetype.InspectDOCX(ra, f.Info().Size); err != nil {
		if ra.err != nil {
			return &storageFailure{ra.err}
		}
		return err
	}
	return nil
}

// failingReaderAt remembers the first error of the store, so a store that
// fails is not mistaken for a malformed archive.
type failingReaderAt struct {
	r   io.ReaderAt
	err error
}

func (f *failingReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.r.ReadAt(b, off)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	return n, err
}

// uploadReadError maps an error reading the client's body during an
// upload: cut off by shutdown, the client gone, or malformed.
func (s *Server) uploadReadError(ctx context.Context, u *upload, err error) error {
	switch {
	case u.aborted.Load():
		return errShuttingDown // the read failed because shutdown cut it
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return u.readError(err)
}

// publish tells the project's live viewers that a document is queued
// (best effort: they also see it when they reload).
func (s *Server) publish(ctx context.Context, d documentJSON) {
	ev := events.Document{DocumentID: d.ID, ProjectID: d.ProjectID, Status: d.PipelineStatus, Progress: d.Progress}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := events.Publish(ctx, s.rdb, ev); err != nil {
		s.log.Debug("progress event not published", "document_id", d.ID, "error", err)
	}
}

// enqueue puts a job on the queue. A failure is logged, not returned: the
// row is committed as queued and the worker's sweep re-enqueues it.
func (s *Server) enqueue(ctx context.Context, job queue.Job) {
	if err := s.queue.Enqueue(context.WithoutCancel(ctx), job); err != nil {
		s.log.Warn("enqueue failed; the sweep will retry", "kind", job.Kind, "id", job.ID, "error", err)
	}
}

// extensionMatches reports whether the client's file name agrees with the
// detected content: an extension naming a document type must name this one
// (a PNG called contract.pdf is refused).
func extensionMatches(name, ftype string) bool {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(strings.ReplaceAll(name, "\\", "/")), "."))
	switch ext {
	case "pdf", "docx", "doc", "png", "jpg", "jpeg", "tif", "tiff", "zip":
		return filetype.Allowed(ftype, []string{ext})
	}
	return true // no or unrelated extension: the content decides
}

// displayName keeps the client's file name as display data only: base name,
// valid UTF-8, no control characters, bounded length.
func displayName(name, ftype string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == "/" {
		name = "document." + ftype
	}
	if utf8.RuneCountInString(name) > 255 {
		name = string([]rune(name)[:255])
	}
	return name
}

func (s *Server) handleDownloadDocument(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := s.authorize(r, s.documentRole, "", "")
	if err != nil {
		return err
	}
	var name, key, mimeType string
	if err := s.pool.QueryRow(ctx, `SELECT original_name, storage_key, mime_type FROM documents WHERE id = $1`, id).
		Scan(&name, &key, &mimeType); err != nil {
		return err
	}
	return s.serveFile(w, r, key, name, mimeType)
}

// documentFile is what handleDownloadDocument sends: the stored MIME type of
// the upload.
var documentFile = fileResponse{filetype.MIME(filetype.PDF), filetype.MIME(filetype.DOCX), filetype.MIME(filetype.PNG),
	filetype.MIME(filetype.JPEG), filetype.MIME(filetype.TIFF), "application/octet-stream"}

// serveFile streams a stored file through the backend as an attachment
// (there are no public or pre-signed URLs to the store); Range requests
// read only the range from the store.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, key, name, mimeType string) error {
	f, err := s.store.Open(r.Context(), key)
	if errors.Is(err, fs.ErrNotExist) {
		return errStatus(http.StatusNotFound, "file not found")
	}
	if err != nil {
		return s.storageReadError(r.Context(), err)
	}
	defer f.Close()
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	w.Header().Set("Content-Type", mimeType)
	w.Header().Set("Content-Disposition", attachment(name))
	http.ServeContent(w, r, "", f.Info().ModTime, f)
	return nil
}

func (s *Server) handleDeleteDocument(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := s.authorize(r, s.documentRole, "editor", "delete document")
	if err != nil {
		return err
	}
	var reports []string
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text FROM document_reports WHERE document_id = $1`, id)
		if err != nil {
			return err
		}
		if reports, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM documents WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return err
	}
	s.trashDocumentFiles(ctx, id, reports)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// trashDocumentFiles moves a deleted document's files to the storage trash
// (purged by the worker after STORAGE_TRASH_RETENTION) rather than removing
// them: a backup running now may hold a snapshot that still references them.
func (s *Server) trashDocumentFiles(ctx context.Context, id string, reportIDs []string) {
	if err := s.store.TrashDocument(ctx, id, reportIDs); err != nil {
		s.log.WarnContext(ctx, "trash document files", "document_id", id, "error", err)
	}
}

func (s *Server) handleReprocess(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := s.authorize(r, s.documentRole, "editor", "reprocess document")
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE documents SET pipeline_status = 'queued', progress = 0, error_message = NULL,
		completed_at = NULL, attempts = 0, enqueued_at = now(), updated_at = now() WHERE id = $1`, id); err != nil {
		return err
	}
	s.enqueue(ctx, queue.Job{Kind: queue.KindDocument, ID: id})
	d, err := scanDocument(s.pool.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents d WHERE d.id = $1`, id))
	if err != nil {
		return err
	}
	s.publish(ctx, d)
	writeJSON(w, http.StatusAccepted, d)
	return nil
}
