package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDevCmd is a placeholder until its issue lands.
func newDevCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "(dev: not built yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("dev: not implemented yet")
		},
	}
}
