package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newReindexCmd is a placeholder until its issue lands.
func newReindexCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "(reindex: not built yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("reindex: not implemented yet")
		},
	}
}
