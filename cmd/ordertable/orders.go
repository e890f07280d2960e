package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newOrdersCmd is a placeholder until its issue lands.
func newOrdersCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "orders",
		Short: "(orders: not built yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("orders: not implemented yet")
		},
	}
}
