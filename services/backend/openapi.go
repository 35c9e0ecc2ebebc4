package backend

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// The OpenAPI document is generated from the route table, so every
// registered operation is described (a test compares the two).

type obj = map[string]any

func str() obj                { return obj{"type": "string"} }
func strFmt(f string) obj     { return obj{"type": "string", "format": f} }
func nullable(s obj) obj      { s["nullable"] = true; return s }
func integer() obj            { return obj{"type": "integer"} }
func boolean() obj            { return obj{"type": "boolean"} }
func ref(name string) obj     { return obj{"$ref": "#/components/schemas/" + name} }
func array(items obj) obj     { return obj{"type": "array", "items": items} }
func enum(vals ...string) obj { return obj{"type": "string", "enum": vals} }
func object(props obj, required ...string) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}
func pageOf(name string) obj {
	return object(obj{"items": array(ref(name)), "total": integer()}, "items", "total")
}

func schemas() obj {
	clause := obj{
		"id": strFmt("uuid"), "document_id": strFmt("uuid"), "ordinal": integer(), "heading": str(), "category": str(),
		"confidence": obj{"type": "number"}, "text": str(), "risk_level": enum("low", "medium", "high"),
		"explanation": str(), "latest_decision": nullable(obj{"allOf": []any{ref("Decision")}}),
	}
	hit := func(extra string) obj {
		p := obj{}
		for k, v := range clause {
			p[k] = v
		}
		p["document_name"], p["project_id"], p[extra] = str(), strFmt("uuid"), obj{"type": "number"}
		return object(p)
	}
	return obj{
		"Error":                 object(obj{"detail": str()}, "detail"),
		"LoginRequest":          object(obj{"email": strFmt("email"), "password": strFmt("password")}, "email", "password"),
		"RefreshRequest":        object(obj{"refresh_token": str()}, "refresh_token"),
		"ChangePasswordRequest": object(obj{"current_password": strFmt("password"), "new_password": strFmt("password")}, "current_password", "new_password"),
		"TokenResponse": object(obj{"access_token": str(), "refresh_token": str(), "token_type": enum("bearer"),
			"expires_in": integer(), "user": ref("User")}, "access_token", "refresh_token", "token_type", "expires_in", "user"),
		"User": object(obj{"id": strFmt("uuid"), "email": str(), "name": str(), "role": enum("admin", "user"),
			"must_change_password": boolean(), "disabled": boolean(), "last_login": nullable(strFmt("date-time")),
			"created_at": strFmt("date-time")}),
		"UserPage":             pageOf("User"),
		"UserRef":              object(obj{"id": strFmt("uuid"), "email": str(), "name": str()}),
		"CreateUserRequest":    object(obj{"email": str(), "name": str(), "role": enum("admin", "user"), "password": strFmt("password")}, "email", "password"),
		"UpdateUserRequest":    object(obj{"name": str(), "role": enum("admin", "user"), "disabled": boolean()}),
		"ResetPasswordRequest": object(obj{"password": strFmt("password")}, "password"),
		"Project": object(obj{"id": strFmt("uuid"), "name": str(), "description": str(), "created_at": strFmt("date-time"),
			"my_role": enum("viewer", "editor", "admin"), "document_count": integer()}),
		"ProjectPage":    pageOf("Project"),
		"ProjectRequest": object(obj{"name": str(), "description": str()}),
		"Member":         object(obj{"user_id": strFmt("uuid"), "email": str(), "name": str(), "role": enum("viewer", "editor", "admin")}),
		"MemberPage":     pageOf("Member"),
		"MemberRequest":  object(obj{"role": enum("viewer", "editor", "admin")}, "role"),
		"Document": object(obj{"id": strFmt("uuid"), "project_id": strFmt("uuid"), "original_name": str(),
			"file_type": enum("pdf", "docx", "png", "jpeg", "tiff"), "size_bytes": integer(), "sha256": str(),
			"pipeline_status": enum("queued", "extracting", "classifying", "analyzing", "embedding", "complete", "failed"),
			"progress":        integer(), "error_message": nullable(str()), "facts": obj{"type": "object"},
			"page_count": nullable(integer()), "clause_count": integer(), "tokens_used": integer(), "analyzer": str(),
			"uploaded_by": nullable(strFmt("uuid")), "created_at": strFmt("date-time"), "completed_at": nullable(strFmt("date-time"))}),
		"DocumentPage": pageOf("Document"),
		"Upload":       object(obj{"project_id": strFmt("uuid"), "file": strFmt("binary")}, "project_id", "file"),
		"Clause":       object(clause),
		"ClausePage":   pageOf("Clause"),
		"Decision": object(obj{"id": strFmt("uuid"), "clause_id": strFmt("uuid"), "decision": enum("accept", "reject", "negotiate"),
			"comment": str(), "decided_by": nullable(obj{"allOf": []any{ref("UserRef")}}), "decided_at": strFmt("date-time")}),
		"DecisionPage":    pageOf("Decision"),
		"DecisionRequest": object(obj{"decision": enum("accept", "reject", "negotiate"), "comment": str()}, "decision"),
		"SimilarClause":   hit("score"),
		"SimilarPage":     pageOf("SimilarClause"),
		"SearchHit":       hit("rank"),
		"SearchPage":      pageOf("SearchHit"),
		"Report": object(obj{"id": strFmt("uuid"), "document_id": strFmt("uuid"), "status": enum("queued", "running", "complete", "failed"),
			"error_message": nullable(str()), "created_at": strFmt("date-time"), "completed_at": nullable(strFmt("date-time")),
			"requested_by": nullable(strFmt("uuid"))}),
		"ReportPage": pageOf("Report"),
		"Settings":   object(obj{"supported_file_types": array(str()), "max_upload_size_mb": integer()}, "supported_file_types", "max_upload_size_mb"),
		"Provider": object(obj{"id": strFmt("uuid"), "name": str(), "kind": enum("openai", "anthropic"), "base_url": strFmt("uri"),
			"model": str(), "embedding_model": str(), "active": boolean(), "has_api_key": boolean(), "created_at": strFmt("date-time")}),
		"ProviderPage": pageOf("Provider"),
		"ProviderRequest": object(obj{"name": str(), "kind": enum("openai", "anthropic"), "base_url": strFmt("uri"), "model": str(),
			"embedding_model": str(), "active": boolean(), "api_key": obj{"type": "string", "writeOnly": true}}),
		"ProviderTest": object(obj{"ok": boolean(), "detail": str()}, "ok", "detail"),
		"Capabilities": object(obj{"items": array(object(obj{"capability": str(), "provider_id": nullable(strFmt("uuid")), "model": str()}))}),
		"AuditEvent": object(obj{"id": integer(), "event_type": str(), "user_id": nullable(strFmt("uuid")), "email": nullable(str()),
			"ip": nullable(str()), "detail": obj{"type": "object"}, "created_at": strFmt("date-time")}),
		"AuditPage": pageOf("AuditEvent"),
	}
}

var pathParamRE = regexp.MustCompile(`\{([a-z_]+)\}`)

func (s *Server) openAPIDocument() obj {
	paths := obj{}
	for _, rt := range s.routes {
		item, _ := paths[rt.Path].(obj)
		if item == nil {
			item = obj{}
			paths[rt.Path] = item
		}
		op := obj{"summary": rt.Summary, "tags": []string{rt.Tag},
			"operationId": operationID(rt)}
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, obj{"name": m[1], "in": "path", "required": true, "schema": strFmt("uuid")})
		}
		for _, q := range queryParams(rt) {
			params = append(params, obj{"name": q, "in": "query", "required": false, "schema": str()})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Body != "" {
			ct := "application/json"
			if rt.Body == "Upload" {
				ct = "multipart/form-data"
			}
			op["requestBody"] = obj{"required": true, "content": obj{ct: obj{"schema": ref(rt.Body)}}}
		}
		ok := obj{"description": http.StatusText(rt.Status)}
		switch rt.Result {
		case "":
		case "File":
			ok["content"] = obj{"application/octet-stream": obj{"schema": strFmt("binary")}}
		default:
			ok["content"] = obj{"application/json": obj{"schema": ref(rt.Result)}}
		}
		errResp := func(d string) obj {
			return obj{"description": d, "content": obj{"application/json": obj{"schema": ref("Error")}}}
		}
		responses := obj{strconv.Itoa(rt.Status): ok}
		if rt.Access != infrastructure && rt.Path != "/api/openapi.json" {
			responses["422"] = errResp("Validation error")
			responses["429"] = errResp("Rate limited (see Retry-After)")
		}
		if rt.Access >= authAny && rt.Access <= authAdmin {
			op["security"] = []any{obj{"bearer": []string{}}}
			responses["401"] = errResp("Missing, invalid or expired token")
			responses["403"] = errResp("Forbidden or password change required")
			responses["404"] = errResp("Not found or not visible")
		}
		if rt.Body == "Upload" {
			responses["413"] = errResp("File too large")
			responses["415"] = errResp("Unsupported file type")
		}
		op["responses"] = responses
		item[strings.ToLower(rt.Method)] = op
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "Contract Lucidity API", "version": "1.0.0",
			"description": "Errors are JSON {\"detail\": ...}. Authenticate with Authorization: Bearer <access token>."},
		"paths": paths,
		"components": obj{
			"schemas":         schemas(),
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
		},
	}
}

var queryRE = regexp.MustCompile(`[?&]([a-z_]+)=`)

func queryParams(rt route) []string {
	var out []string
	for _, m := range queryRE.FindAllStringSubmatch(rt.Summary, -1) {
		out = append(out, m[1])
	}
	if strings.HasSuffix(rt.Result, "Page") && len(out) == 0 && rt.Method == "GET" {
		out = []string{"limit", "offset"}
	}
	return out
}

func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, part := range strings.Split(strings.Trim(rt.Path, "/"), "/") {
		part = strings.Trim(part, "{}")
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(s.openapi)
	return err
}
