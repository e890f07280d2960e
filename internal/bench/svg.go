package bench

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// WriteSVG draws one bar per figure that has a target: the bar is the figure's ratio (or value,
// when it has no baseline) scaled so that every target sits on the same vertical line. A bar
// reaching past the line is good for ">=" targets and bad for "<=" targets; the colour says
// which. Figures without a number are listed in grey with their reason.
func (r *Report) WriteSVG(w io.Writer) error {
	const (
		labelW  = 330
		barW    = 420 // the target line sits at barW/2
		valueW  = 170
		rowH    = 22
		topH    = 56
		width   = labelW + barW + valueW
		maxMult = 2.0 // bars are capped at twice the target
	)
	type row struct {
		label, value string
		frac         float64 // 0..1 of barW
		color        string
		missing      bool
		capped       bool
	}
	var rows []row
	for _, f := range r.Figures {
		if f.Target == nil {
			continue
		}
		if !f.Measured() {
			rows = append(rows, row{label: f.Name, value: "not measured", missing: true, color: "#999"})
			continue
		}
		v := f.Value
		if f.Ratio != nil {
			v = *f.Ratio
		} else if f.Baseline != 0 {
			continue
		}
		rel := 0.0
		if f.Target.Value != 0 {
			rel = v / f.Target.Value
		}
		shown, target := fmtNum(v), f.Target.String()
		if f.Ratio == nil && f.Unit != "" {
			shown, target = withUnit(v, f.Unit), target+" "+f.Unit
		}
		rw := row{label: f.Name, value: fmt.Sprintf("%s (target %s)", shown, target)}
		if rel > maxMult {
			rel, rw.capped = maxMult, true
		}
		if rel < 0 {
			rel = 0
		}
		rw.frac = rel / maxMult
		rw.color = "#2e7d32"
		if f.Pass != nil && !*f.Pass {
			rw.color = "#c62828"
		}
		rows = append(rows, rw)
	}
	height := topH + rowH*len(rows) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, height)
	mode := "full"
	if r.Quick {
		mode = "quick"
	}
	fmt.Fprintf(&b, `<text x="8" y="20" font-size="15" font-weight="bold">ordertable bench (%s run, %s)</text>`+"\n", mode, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, `<text x="8" y="40" fill="#555">ratio to the same-run baseline; the dashed line is each figure's target; green meets it, red misses it</text>`+"\n")
	for i, rw := range rows {
		y := topH + i*rowH
		fmt.Fprintf(&b, `<text x="8" y="%d">%s</text>`+"\n", y+15, html.EscapeString(rw.label))
		if rw.missing {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#999">not measured</text>`+"\n", labelW, y+15)
			continue
		}
		bw := int(rw.frac * barW)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", labelW, y+4, bw, rowH-8, rw.color)
		if rw.capped {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#fff" text-anchor="end">»</text>`+"\n", labelW+bw-3, y+15)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", labelW+barW+8, y+15, html.EscapeString(rw.value))
	}
	lineX := labelW + barW/2
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000" stroke-dasharray="4 3"/>`+"\n", lineX, topH-4, lineX, topH+rowH*len(rows)+4)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#555">target</text>`+"\n", lineX, topH+rowH*len(rows)+20)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
