package config

import (
	"slices"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/controllers"
)

// The operator's SecurityValidated condition warns about the values the
// services refuse: both lists must stay the same.
func TestOperatorKnowsTheKnownDefaults(t *testing.T) {
	if !slices.Equal(knownDefaults, controllers.KnownDefaultSecrets) {
		t.Errorf("controllers.KnownDefaultSecrets differs from the services' knownDefaults:\nservices: %q\noperator: %q", knownDefaults, controllers.KnownDefaultSecrets)
	}
}
