package backend

import "github.com/contract-lucidity/contract-lucidity/services/internal/config"

// refuseTestKey: in production an AI provider key that is a test key or a
// placeholder is refused when an admin enters it (stored keys are
// encrypted, so this is the one place to catch it).
func (s *Server) refuseTestKey(k *string) error {
	if k == nil || !s.cfg.Production() {
		return nil
	}
	if reason, bad := config.TestOrPlaceholderKey(*k); bad {
		return unprocessable("api_key is %s; production needs the provider's real key", reason)
	}
	return nil
}
