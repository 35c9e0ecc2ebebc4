package validate

import (
	"errors"
	"net/url"
	"sort"
	"strings"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// Env checks an environment (the services' variables) with the rules the
// services apply at start-up (config.LoadFrom, the same code), plus what
// they cannot see: AI keys in the environment that are test keys or
// placeholders, and CORS origins that are not https.
func Env(lookup func(string) (string, bool), environ []string) Report {
	var r Report
	env, _ := lookup("ENVIRONMENT")
	prod := strings.EqualFold(strings.TrimSpace(env), "production")
	if prod {
		r.add("ENVIRONMENT", Pass, "production: the services apply their strict checks")
	} else {
		r.add("ENVIRONMENT", Warn, "%q: the services skip the production checks (secrets, CORS, https); set ENVIRONMENT=production for a deployment", orDefault(env, "development"))
	}

	// One line per problem, whichever services share it.
	problems := map[string][]string{}
	for _, svc := range []config.Service{config.Backend, config.Worker, config.Frontend, config.Migrate} {
		_, err := config.LoadFrom(svc, lookup)
		for _, p := range splitProblems(err) {
			problems[p] = append(problems[p], string(svc))
		}
	}
	keys := make([]string, 0, len(problems))
	for p := range problems {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		name, _, _ := strings.Cut(p, " ")
		r.add(name, Fail, "%s (refused by %s)", p, strings.Join(problems[p], ", "))
	}
	if len(problems) == 0 {
		r.add("service configuration", Pass, "backend, worker, frontend and migrate accept it (secrets, CORS, API_BASE_URL, limits)")
	}

	// CORS origins over http let a page on the network read the API.
	if v, _ := lookup("CORS_ORIGINS"); prod {
		for _, o := range strings.Split(v, ",") {
			o = strings.TrimSpace(o)
			if u, err := url.Parse(o); err == nil && u.Scheme == "http" {
				r.add("CORS_ORIGINS", Fail, "%q is http: in production every origin must be https", o)
			}
		}
	}

	// AI provider keys normally live in the database (encrypted; the API
	// refuses test keys in production); keys passed in the environment are
	// checked here.
	found := false
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.Contains(strings.ToUpper(name), "API_KEY") || strings.TrimSpace(value) == "" {
			continue
		}
		found = true
		if reason, bad := config.TestOrPlaceholderKey(value); bad {
			st := Warn
			if prod {
				st = Fail
			}
			r.add(name, st, "is %s", reason)
		} else {
			r.add(name, Pass, "not a test or placeholder key")
		}
	}
	if !found {
		r.add("AI provider keys", Pass, "none in the environment (keys entered in the UI are checked by the API)")
	}
	return r
}

// splitProblems returns the individual messages of a config.LoadFrom error.
func splitProblems(err error) []string {
	if err == nil {
		return nil
	}
	inner := errors.Unwrap(err)
	if j, ok := inner.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
