package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newESCmd is a placeholder until its issue lands.
func newESCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "es",
		Short: "(es: not built yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("es: not implemented yet")
		},
	}
}
