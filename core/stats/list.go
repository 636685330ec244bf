package stats

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// WriteList writes the table of `netspot ls`: every statistic with its
// unit and meaning, those watched by default marked with *.
func WriteList(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tUNIT\tDESCRIPTION")
	for _, s := range table {
		mark := "  "
		if slices.Contains(defaultNames[:], s.Name) {
			mark = "* "
		}
		unit := s.Unit
		if unit == "" {
			unit = "-"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\n", mark, s.Name, unit, s.Help)
	}
	return tw.Flush()
}
