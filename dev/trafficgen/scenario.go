package trafficgen

import "netspot/core/config"

// LoadScenario reads a TOML scenario file over DefaultConfig and validates
// it. Every problem is reported at its key and line.
func LoadScenario(path string) (Config, error) {
	doc, err := config.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return decodeScenario(doc)
}

// ParseScenario reads a TOML scenario over DefaultConfig and validates it.
func ParseScenario(b []byte) (Config, error) {
	doc, err := config.Parse("", b)
	if err != nil {
		return Config{}, err
	}
	return decodeScenario(doc)
}

func decodeScenario(doc *config.Document) (Config, error) {
	c := DefaultConfig()
	if err := doc.Decode(config.Section{Value: &c}); err != nil {
		return Config{}, err
	}
	return c, nil
}
