package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newSearchCmd is a placeholder until its issue lands.
func newSearchCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "search",
		Short: "(search: not built yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("search: not implemented yet")
		},
	}
}
