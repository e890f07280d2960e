// Package cliflags gives every command-line flag an environment-variable fallback: a flag
// --database-url reads $DATABASE_URL when it is not set on the command line. Precedence is
// flag > environment > default. The variable is named in the flag's --help text.
package cliflags

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// EnvName is the variable that backs a flag: upper case, dashes to underscores.
func EnvName(flag string) string {
	return strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// BindEnv applies environment values to every flag of fs that was not set explicitly and
// appends "[$VAR]" to each flag's usage. Call it after the flags are defined (usage) and again
// after parsing (values); it is idempotent.
func BindEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		env := EnvName(f.Name)
		tag := "[$" + env + "]"
		if !strings.Contains(f.Usage, tag) {
			f.Usage = strings.TrimSpace(f.Usage + " " + tag)
		}
		if f.Changed {
			return
		}
		if v, ok := os.LookupEnv(env); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment %s=%q for --%s: %w", env, v, f.Name, e)
			}
		}
	})
	return err
}

// BindEnvUsage only appends "[$VAR]" to each flag's usage, without reading the environment.
func BindEnvUsage(fs *pflag.FlagSet) error {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		if tag := "[$" + EnvName(f.Name) + "]"; !strings.Contains(f.Usage, tag) {
			f.Usage = strings.TrimSpace(f.Usage + " " + tag)
		}
	})
	return nil
}
