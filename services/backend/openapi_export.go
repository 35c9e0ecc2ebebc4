package backend

import "encoding/json"

// OpenAPIDocument is /api/openapi.json as the backend serves it, built from
// the route table alone (no database): clctl's client is generated from it.
func OpenAPIDocument() ([]byte, error) {
	s := &Server{}
	s.routes = s.routeTable()
	doc, err := s.openAPIDocument()
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(doc, "", "  ")
}
