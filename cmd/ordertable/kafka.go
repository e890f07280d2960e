package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newKafkaCmd is a placeholder until its issue lands.
func newKafkaCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "kafka",
		Short: "(kafka: not built yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("kafka: not implemented yet")
		},
	}
}
