package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newCustomersCmd is a placeholder until its issue lands.
func newCustomersCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "customers",
		Short: "(customers: not built yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("customers: not implemented yet")
		},
	}
}
