package extract

import (
	"errors"
	"fmt"
)

// Error is an extraction failure with a message fit for the person who
// uploaded the file. Permanent errors come from the file itself (damaged,
// encrypted, no readable text) and retrying cannot fix them; the others
// (timeouts, a missing tool, a full disk) may succeed on a later attempt.
type Error struct {
	Permanent bool
	// Message is shown to users (documents.error_message); no paths or internals.
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return fmt.Sprintf("%s: %v", e.Message, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func permanent(msg string, err error) error { return &Error{Permanent: true, Message: msg, Err: err} }
func transient(msg string, err error) error { return &Error{Permanent: false, Message: msg, Err: err} }

// IsPermanent reports whether err is an extraction error that retrying
// cannot fix.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// UserMessage returns the user-facing message of an extraction error, or
// fallback for any other error.
func UserMessage(err error, fallback string) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return fallback
}

// Messages shown to users; tests compare against them.
const (
	MsgEncryptedPDF    = "the PDF is encrypted with a password; upload an unprotected copy"
	MsgCorruptPDF      = "the PDF file is damaged or not a valid PDF; re-export it and upload it again"
	MsgCorruptDOCX     = "the DOCX file is damaged or not a valid Word document; re-save it and upload it again"
	MsgCorruptImage    = "the image could not be read; upload a PNG, JPEG or TIFF file"
	MsgNoText          = "no readable text was found in the document (even with OCR)"
	MsgTooLarge        = "the document is too large to process (too much text or too many pages)"
	MsgUnsupportedType = "this file type is not supported"
	MsgTimeout         = "text extraction took too long; it will be retried"
	MsgToolFailed      = "text extraction failed unexpectedly; it will be retried"
)
