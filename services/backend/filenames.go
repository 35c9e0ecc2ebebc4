package backend

import (
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// downloadName is a file name for a download made from a display name (a
// document's or a project's): no path, no characters that file systems or
// the header refuse, bounded length, and the extension given.
func downloadName(base, ext string) string {
	base = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError || unicode.IsControl(r):
			return -1
		case strings.ContainsRune(`/\:|`, r):
			return '-'
		case strings.ContainsRune(`"*?<>`, r):
			return -1
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, base)
	base = strings.Join(strings.Fields(base), " ")
	base = strings.Trim(base, " .-")
	if utf8.RuneCountInString(base) > 120 {
		base = strings.TrimSpace(string([]rune(base)[:120]))
	}
	if base == "" {
		base = "report"
	}
	return base + "." + ext
}

// withoutExtension drops a file name's extension ("Lease.pdf" is "Lease").
func withoutExtension(name string) string {
	if ext := path.Ext(name); ext != "" && len(ext) <= 6 && len(ext) < len(name) {
		return strings.TrimSuffix(name, ext)
	}
	return name
}

// attachment is a Content-Disposition header value for a download.
func attachment(name string) string {
	return mime.FormatMediaType("attachment", map[string]string{"filename": name})
}
