package backend

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
)

// The OpenAPI document is generated from the route table (paths, access
// rules, operations) and from the Go types the handlers decode and encode
// (schemas, through openapi3gen), so it cannot drift from either.
//
// Struct tags say what Go types cannot: format:"uuid", enum:"a,b",
// writeOnly:"true". A property is required unless its field has omitempty
// (encoding/json always writes the others); a pointer field is nullable.
//
// OpenAPI 3.0.3: what oapi-codegen (the clctl client) handles best.

// tagDescriptions describes every tag the documented routes use.
var tagDescriptions = map[string]string{
	"auth":      "Sign-in, token refresh and rotation, password change",
	"users":     "User accounts (administrators)",
	"projects":  "Projects and their members",
	"documents": "Uploaded contracts and their pipeline status",
	"clauses":   "Extracted clauses and review decisions",
	"search":    "Full-text and similarity search over visible clauses",
	"reports":   "Generated HTML and PDF reports",
	"viewer":    "The original pages of a document, and where a clause or fact lies on them",
	"settings":  "Upload settings",
	"playbook":  "The risk playbook: installation rules, project overrides, re-assessment",
	"ai":        "AI providers and the capability mapping (administrators)",
	"admin":     "Audit log (administrators)",
}

// fileResponse is a route Result for a stored file sent in one of these
// media types.
type fileResponse []string

// mediaTyper is a request body type that is not JSON.
type mediaTyper interface{ mediaType() string }

// errorResponses are the shared error responses, by status.
var errorResponses = map[int]string{
	http.StatusUnauthorized:          "Not authenticated: missing, invalid or expired token, or wrong credentials",
	http.StatusForbidden:             "Forbidden, or the password must be changed first",
	http.StatusNotFound:              "Not found, or not visible to the caller",
	http.StatusConflict:              "Conflict: the name or email is taken, or the resource is not ready",
	http.StatusRequestEntityTooLarge: "Request body or file too large",
	http.StatusUnsupportedMediaType:  "Unsupported file type, or content that does not match the file name",
	http.StatusUnprocessableEntity:   "Invalid input; detail says what",
	http.StatusTooManyRequests:       "Too many requests; retry after Retry-After seconds",
	http.StatusInsufficientStorage:   "The server's document storage is full; nothing was stored",
	http.StatusServiceUnavailable:    "Temporarily unavailable (a dependency is down); retry after Retry-After seconds",
}

// extraErrors are statuses a route answers beyond those its kind implies
// (see routeErrors); a test checks that every key is a route.
var extraErrors = map[string][]int{
	"POST /api/auth/login":                        {http.StatusUnauthorized, http.StatusTooManyRequests},
	"POST /api/auth/refresh":                      {http.StatusUnauthorized, http.StatusTooManyRequests},
	"POST /api/auth/logout":                       {http.StatusTooManyRequests},
	"POST /api/documents":                         {http.StatusInsufficientStorage},
	"GET /api/users/lookup":                       {http.StatusNotFound},
	"POST /api/users":                             {http.StatusConflict},
	"POST /api/projects":                          {http.StatusConflict},
	"PATCH /api/projects/{id}":                    {http.StatusConflict},
	"DELETE /api/projects/{id}/members/{user_id}": {http.StatusUnprocessableEntity}, // the last project admin
	"GET /api/search":                             {http.StatusNotFound},
	"GET /api/documents/{id}/file":                {http.StatusServiceUnavailable}, // the document storage is unreachable
	"GET /api/reports/{id}/download":              {http.StatusConflict, http.StatusServiceUnavailable},
	"GET /api/projects/{id}/events":               {http.StatusServiceUnavailable},
	"GET /api/documents/{id}/highlight":           {http.StatusConflict, http.StatusServiceUnavailable},
	"GET /api/documents/{id}/pages":               {http.StatusServiceUnavailable}, // the document storage is unreachable
	"GET /api/documents/{id}/pages/{page}/image":  {http.StatusServiceUnavailable},
	"GET /api/documents/{id}/text":                {http.StatusConflict},
	"POST /api/admin/ai-providers":                {http.StatusConflict},
	"PATCH /api/admin/ai-providers/{id}":          {http.StatusConflict},
	"POST /api/projects/{id}/playbook/rules":      {http.StatusConflict}, // the rule is overridden already
}

// queryParams are the query parameters routes name in their summary
// ("(?q=&limit=)"), with their schema and whether they are required.
var queryParams = map[string]struct {
	schema   *openapi3.Schema
	required bool
}{
	"limit":      {openapi3.NewIntegerSchema().WithMin(1), false},
	"offset":     {openapi3.NewIntegerSchema().WithMin(0), false},
	"q":          {openapi3.NewStringSchema().WithMaxLength(500), true},
	"email":      {openapi3.NewStringSchema(), true},
	"project_id": {openapi3.NewUUIDSchema(), false},
	"category":   {openapi3.NewStringSchema(), false},
	"risk":       {openapi3.NewStringSchema().WithEnum("low", "medium", "high"), false},
	"event_type": {openapi3.NewStringSchema(), false},
	"format":     {openapi3.NewStringSchema().WithEnum("html", "pdf").WithDefault("html"), false},
	"start":      {openapi3.NewIntegerSchema().WithMin(0), true},
	"end":        {openapi3.NewIntegerSchema().WithMin(1), true},
}

// pathParams are the path parameters that are not UUIDs.
var pathParams = map[string]*openapi3.Schema{
	"page": openapi3.NewIntegerSchema().WithMin(1),
}

var (
	pathParamRE = regexp.MustCompile(`\{([a-z_]+)\}`)
	queryRE     = regexp.MustCompile(`[?&]([a-z_]+)=`)
)

// documented reports whether a route is part of the described API: health,
// metrics and the document itself are not (they are for the kubelet,
// Prometheus and tools, on the backend's own address).
func documented(rt route) bool { return rt.Access != infrastructure }

func (s *Server) openAPIDocument() (*openapi3.T, error) {
	g := newSchemaGen()
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{
			Title:   "Contract Lucidity API",
			Version: "1.0.0",
			Description: "Errors are JSON {\"detail\": ...} without internals. Authenticate with " +
				"`Authorization: Bearer <access token>` from /api/auth/login.",
			License: &openapi3.License{Name: "Apache-2.0", URL: "https://www.apache.org/licenses/LICENSE-2.0"},
		},
		Servers:  openapi3.Servers{{URL: "/", Description: "The address that served this document (API_BASE_URL)"}},
		Security: openapi3.SecurityRequirements{{"bearerAuth": {}}},
		Paths:    openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas:   g.schemas,
			Responses: openapi3.ResponseBodies{},
			SecuritySchemes: openapi3.SecuritySchemes{"bearerAuth": {Value: openapi3.NewJWTSecurityScheme().
				WithDescription("Access token from /api/auth/login or /api/auth/refresh")}},
		},
	}
	errRef, err := g.ref(reflect.TypeFor[errorJSON]())
	if err != nil {
		return nil, err
	}
	tags := map[string]bool{}
	for _, rt := range s.routes {
		if !documented(rt) {
			continue
		}
		op, err := g.operation(rt)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", rt.Method, rt.Path, err)
		}
		for _, status := range routeErrors(rt) {
			resp, err := errorResponse(status, errRef)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", rt.Method, rt.Path, err)
			}
			name := strings.ReplaceAll(http.StatusText(status), " ", "")
			doc.Components.Responses[name] = &openapi3.ResponseRef{Value: resp}
			op.Responses.Set(strconv.Itoa(status), &openapi3.ResponseRef{Ref: "#/components/responses/" + name})
		}
		item := doc.Paths.Value(rt.Path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(rt.Path, item)
		}
		item.SetOperation(rt.Method, op)
		tags[rt.Tag] = true
	}
	for _, name := range slices.Sorted(maps.Keys(tags)) {
		desc, ok := tagDescriptions[name]
		if !ok {
			return nil, fmt.Errorf("tag %q has no description", name)
		}
		doc.Tags = append(doc.Tags, &openapi3.Tag{Name: name, Description: desc})
	}
	return doc, nil
}

// errorResponse is the shared response for an error status: Error JSON,
// with Retry-After on 429.
func errorResponse(status int, schema *openapi3.SchemaRef) (*openapi3.Response, error) {
	desc, ok := errorResponses[status]
	if !ok {
		return nil, fmt.Errorf("status %d has no description", status)
	}
	resp := openapi3.NewResponse().WithDescription(desc).WithContent(openapi3.NewContentWithJSONSchemaRef(schema))
	if status == http.StatusTooManyRequests {
		resp.Headers = openapi3.Headers{"Retry-After": {Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: "Seconds to wait", Schema: openapi3.NewIntegerSchema().NewRef()}}}}
	}
	return resp, nil
}

func (g *schemaGen) operation(rt route) (*openapi3.Operation, error) {
	op := &openapi3.Operation{
		Tags:        []string{rt.Tag},
		Summary:     rt.Summary,
		OperationID: operationID(rt),
		Responses:   openapi3.NewResponses(),
	}
	if rt.Access == public {
		op.Security = &openapi3.SecurityRequirements{} // overrides the root's bearerAuth
	}
	for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
		schema, ok := pathParams[m[1]]
		if !ok {
			schema = openapi3.NewUUIDSchema()
		}
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewPathParameter(m[1]).WithSchema(schema)})
	}
	for _, name := range queryNames(rt) {
		q, ok := queryParams[name]
		if !ok {
			return nil, fmt.Errorf("query parameter %q has no schema", name)
		}
		p := openapi3.NewQueryParameter(name).WithSchema(q.schema)
		p.Required = q.required
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: p})
	}
	if rt.Body != nil {
		t := reflect.TypeOf(rt.Body)
		ref, err := g.ref(t)
		if err != nil {
			return nil, err
		}
		mt := "application/json"
		if m, ok := rt.Body.(mediaTyper); ok {
			mt = m.mediaType()
		}
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
			WithContent(openapi3.NewContentWithSchemaRef(ref, []string{mt}))}
	}
	ok := openapi3.NewResponse().WithDescription(http.StatusText(rt.Status))
	switch res := rt.Result.(type) {
	case nil:
	case fileResponse:
		ok.WithContent(openapi3.NewContentWithSchema(openapi3.NewStringSchema().WithFormat("binary"), res))
	default:
		ref, err := g.ref(reflect.TypeOf(res))
		if err != nil {
			return nil, err
		}
		ok.WithContent(openapi3.NewContentWithJSONSchemaRef(ref))
	}
	op.AddResponse(rt.Status, ok)
	return op, nil
}

// routeErrors are the error statuses a route answers: those of its access
// rule, its path parameters, body and query, and extraErrors.
func routeErrors(rt route) []int {
	var out []int
	switch rt.Access {
	case authAny:
		out = append(out, http.StatusUnauthorized, http.StatusTooManyRequests)
	case authUser, authAdmin:
		out = append(out, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests)
	}
	if pathParamRE.MatchString(rt.Path) {
		out = append(out, http.StatusNotFound)
	}
	if rt.Body != nil || len(queryNames(rt)) > 0 {
		out = append(out, http.StatusUnprocessableEntity)
	}
	if rt.Body != nil {
		out = append(out, http.StatusRequestEntityTooLarge)
	}
	if _, ok := rt.Body.(uploadForm); ok {
		out = append(out, http.StatusNotFound, http.StatusUnsupportedMediaType) // project_id not visible; content type
	}
	if rt.Access != infrastructure {
		out = append(out, http.StatusServiceUnavailable) // every operation reads PostgreSQL
	}
	out = append(out, extraErrors[rt.Method+" "+rt.Path]...)
	slices.Sort(out)
	return slices.Compact(out)
}

func queryNames(rt route) []string {
	var out []string
	for _, m := range queryRE.FindAllStringSubmatch(rt.Summary, -1) {
		out = append(out, m[1])
	}
	return out
}

// operationID is the handler's name without "handle": handleListUsers is
// listUsers (unique, since every route has its own handler).
func operationID(rt route) string {
	name := runtime.FuncForPC(reflect.ValueOf(rt.h).Pointer()).Name()
	name = strings.TrimSuffix(name[strings.LastIndexByte(name, '.')+1:], "-fm")
	name = strings.TrimPrefix(name, "handle")
	return strings.ToLower(name[:1]) + name[1:]
}

// schemaName is a type's component name: its own schemaName method, else
// the Go name without a JSON suffix, capitalised (userJSON is User).
func schemaName(t reflect.Type) string {
	if n, ok := reflect.Zero(t).Interface().(interface{ schemaName() string }); ok {
		return n.schemaName()
	}
	n := strings.TrimSuffix(t.Name(), "JSON")
	return strings.ToUpper(n[:1]) + n[1:]
}

// schemaGen turns Go types into component schemas, one per named struct;
// a struct inside another becomes a $ref.
type schemaGen struct {
	schemas openapi3.Schemas
	types   map[string]reflect.Type // component name -> the type it came from
}

func newSchemaGen() *schemaGen {
	return &schemaGen{schemas: openapi3.Schemas{}, types: map[string]reflect.Type{}}
}

// goRef marks, during generation, a nested struct schema to be replaced
// by a $ref to its component.
const goRef = "x-go-ref"

// ref returns a $ref to t's component schema, generating it (and the
// components it refers to) the first time.
func (g *schemaGen) ref(t reflect.Type) (*openapi3.SchemaRef, error) {
	if t.Kind() != reflect.Struct || t.Name() == "" {
		return nil, fmt.Errorf("%v: request and response types must be named structs", t)
	}
	name := schemaName(t)
	ref := openapi3.NewSchemaRef("#/components/schemas/"+name, nil)
	if prev, ok := g.types[name]; ok {
		if prev != t {
			return nil, fmt.Errorf("types %v and %v are both named %s", prev, t, name)
		}
		return ref, nil
	}
	g.types[name] = t
	var nested []reflect.Type
	customize := func(_ string, ft reflect.Type, tag reflect.StructTag, s *openapi3.Schema) error {
		if ft.Kind() == reflect.Struct && ft != t && ft != reflect.TypeFor[time.Time]() {
			nested = append(nested, ft)
			*s = openapi3.Schema{Nullable: s.Nullable, Extensions: map[string]any{goRef: ft}}
			return nil
		}
		return applyTags(ft, tag, s)
	}
	root, err := openapi3gen.NewSchemaRefForValue(reflect.Zero(t).Interface(), nil,
		openapi3gen.UseAllExportedFields(), openapi3gen.SchemaCustomizer(customize))
	if err != nil {
		return nil, fmt.Errorf("schema of %v: %w", t, err)
	}
	g.schemas[name] = root
	for _, nt := range nested {
		if _, err := g.ref(nt); err != nil {
			return nil, err
		}
	}
	replaceGoRefs(root.Value)
	return ref, nil
}

// replaceGoRefs swaps nested struct schemas for $refs; a nullable one
// becomes {nullable, type: object, allOf: [$ref]}, since OpenAPI 3.0 allows
// no siblings next to $ref and nullable needs a type.
func replaceGoRefs(s *openapi3.Schema) {
	swap := func(r *openapi3.SchemaRef) *openapi3.SchemaRef {
		if r == nil || r.Value == nil {
			return r
		}
		t, ok := r.Value.Extensions[goRef].(reflect.Type)
		if !ok {
			replaceGoRefs(r.Value)
			return r
		}
		ref := openapi3.NewSchemaRef("#/components/schemas/"+schemaName(t), nil)
		if !r.Value.Nullable {
			return ref
		}
		return &openapi3.SchemaRef{Value: &openapi3.Schema{Nullable: true, Type: &openapi3.Types{openapi3.TypeObject},
			AllOf: openapi3.SchemaRefs{ref}}}
	}
	for k, p := range s.Properties {
		s.Properties[k] = swap(p)
	}
	s.Items = swap(s.Items)
	s.AdditionalProperties.Schema = swap(s.AdditionalProperties.Schema)
}

// applyTags adds what the field's tags and the encoding/json rules say to
// the generated schema of a field (or, for slices, of their items).
func applyTags(t reflect.Type, tag reflect.StructTag, s *openapi3.Schema) error {
	switch {
	case t == reflect.TypeFor[json.RawMessage]():
		s.Type = &openapi3.Types{openapi3.TypeObject} // facts, audit detail: free-form objects
	case t.Kind() == reflect.Struct:
		s.Required = requiredFields(t)
	case s.Type.Is(openapi3.TypeString):
		if f, ok := tag.Lookup("format"); ok {
			s.Format = f
		}
		if e, ok := tag.Lookup("enum"); ok {
			for _, v := range strings.Split(e, ",") {
				s.Enum = append(s.Enum, v)
			}
		}
	}
	if tag.Get("writeOnly") == "true" && !s.Type.Is(openapi3.TypeArray) {
		s.WriteOnly = true
	}
	return nil
}

// requiredFields are t's JSON properties without omitempty, embedded
// structs flattened as encoding/json does.
func requiredFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			out = append(out, requiredFields(f.Type)...)
		case !f.IsExported():
		case !slices.Contains(strings.Split(opts, ","), "omitempty"):
			if name == "" {
				name = f.Name
			}
			out = append(out, name)
		}
	}
	return out
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(s.openapi)
	return err
}
