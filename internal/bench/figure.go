package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Target is the goal a figure's ratio is held to, e.g. ">= 0.8" or "<= 2".
type Target struct {
	// Op is ">=" (higher is better) or "<=" (lower is better).
	Op string `json:"op"`
	// Value is the bound on the ratio.
	Value float64 `json:"value"`
}

// AtLeast is the target "ratio >= v".
func AtLeast(v float64) *Target { return &Target{Op: ">=", Value: v} }

// AtMost is the target "ratio <= v".
func AtMost(v float64) *Target { return &Target{Op: "<=", Value: v} }

func (t *Target) String() string {
	if t == nil {
		return ""
	}
	return t.Op + " " + fmtNum(t.Value)
}

// Met reports whether ratio meets the target.
func (t *Target) Met(ratio float64) bool {
	switch t.Op {
	case ">=":
		return ratio >= t.Value
	case "<=":
		return ratio <= t.Value
	}
	return false
}

// Figure is one measured value with the baseline it was measured against in the same run.
// A figure that could not be measured keeps its name and says why in NotMeasured instead of
// carrying a number.
type Figure struct {
	// Group is the figure family: "write", "engine", "pipeline", ...
	Group string `json:"group"`
	// Name identifies the figure, e.g. "engine.bulk_docs_per_s".
	Name string `json:"name"`
	// Value is the measurement in Unit.
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Baseline is the same-run reference Value is divided by (0 when the figure has none),
	// described by BaselineName, in BaselineUnit (default Unit).
	Baseline     float64 `json:"baseline,omitempty"`
	BaselineName string  `json:"baseline_name,omitempty"`
	BaselineUnit string  `json:"baseline_unit,omitempty"`
	// Ratio is Value ÷ Baseline (or the figure's own stated ratio), nil without baseline.
	Ratio *float64 `json:"ratio,omitempty"`
	// Target is the goal for Ratio (or for Value when there is no baseline); nil if none.
	Target *Target `json:"target,omitempty"`
	// Pass is whether the target was met; nil when there is no target or no measurement.
	Pass *bool `json:"pass,omitempty"`
	// NotMeasured, when set, says why there is no number.
	NotMeasured string `json:"not_measured,omitempty"`
	// Note adds context: sizes, what exactly was timed, caveats.
	Note string `json:"note,omitempty"`
}

// Measured reports whether the figure carries a number.
func (f Figure) Measured() bool { return f.NotMeasured == "" }

// ratioOf builds a figure from a value and its baseline, filling Ratio and Pass.
func ratioOf(group, name string, value float64, unit string, baseline float64, baselineName string, target *Target) Figure {
	f := Figure{Group: group, Name: name, Value: value, Unit: unit, Baseline: baseline, BaselineName: baselineName, Target: target}
	if baseline > 0 && !math.IsNaN(value) && !math.IsInf(value, 0) {
		r := value / baseline
		f.Ratio = &r
		f.judge()
	}
	return f
}

// plain builds a figure without baseline; a target, if any, applies to the value itself.
func plain(group, name string, value float64, unit string, target *Target) Figure {
	f := Figure{Group: group, Name: name, Value: value, Unit: unit, Target: target}
	f.judge()
	return f
}

// notMeasured builds a figure that carries the reason instead of a number.
func notMeasured(group, name, reason string) Figure {
	return Figure{Group: group, Name: name, NotMeasured: reason}
}

func (f *Figure) judge() {
	f.Pass = nil
	if f.Target == nil || !f.Measured() {
		return
	}
	v := f.Value
	if f.Ratio != nil {
		v = *f.Ratio
	} else if f.Baseline != 0 {
		return // a baseline that could not be divided: no verdict
	}
	ok := f.Target.Met(v)
	f.Pass = &ok
}

// Report is the outcome of one bench run.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Quick    bool          `json:"quick"`
	// Command reproduces the run.
	Command string `json:"command"`
	// Environment describes where it ran: CPUs, Go version, which endpoints were embedded.
	Environment map[string]string `json:"environment"`
	Figures     []Figure          `json:"figures"`
}

// Failed lists the figures whose target was missed.
func (r *Report) Failed() []Figure {
	var out []Figure
	for _, f := range r.Figures {
		if f.Pass != nil && !*f.Pass {
			out = append(out, f)
		}
	}
	return out
}

// WriteTable prints the figures as an aligned text table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tBASELINE\tRATIO\tTARGET\tPASS")
	for _, f := range r.Figures {
		if !f.Measured() {
			fmt.Fprintf(tw, "%s\tnot measured: %s\t\t\t%s\t\n", f.Name, f.NotMeasured, f.Target.String())
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, withUnit(f.Value, f.Unit), baselineText(f), ratioText(f), f.Target.String(), passText(f.Pass))
	}
	return tw.Flush()
}

// WriteMarkdown prints the figures as a Markdown table, for docs/performance.md and README.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| figure | value | baseline (same run) | ratio | target | pass |\n|---|---|---|---|---|---|\n")
	for _, f := range r.Figures {
		if !f.Measured() {
			fmt.Fprintf(&b, "| %s | not measured: %s | | | %s | |\n", f.Name, mdEscape(f.NotMeasured), f.Target.String())
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", f.Name, withUnit(f.Value, f.Unit), mdEscape(baselineText(f)), ratioText(f), f.Target.String(), passText(f.Pass))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func baselineText(f Figure) string {
	if f.Baseline == 0 && f.BaselineName == "" {
		return ""
	}
	unit := f.BaselineUnit
	if unit == "" {
		unit = f.Unit
	}
	if f.Baseline == 0 {
		return f.BaselineName
	}
	return withUnit(f.Baseline, unit) + " (" + f.BaselineName + ")"
}

func ratioText(f Figure) string {
	if f.Ratio == nil {
		return ""
	}
	return fmtNum(*f.Ratio)
}

func passText(p *bool) string {
	switch {
	case p == nil:
		return ""
	case *p:
		return "yes"
	default:
		return "NO"
	}
}

func withUnit(v float64, unit string) string {
	if unit == "" {
		return fmtNum(v)
	}
	return fmtNum(v) + " " + unit
}

// fmtNum prints about three significant digits without exponent noise.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1000:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
