package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newIndexerCmd is a placeholder until its issue lands.
func newIndexerCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "indexer",
		Short: "(indexer: not built yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("indexer: not implemented yet")
		},
	}
}
