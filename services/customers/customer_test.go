package customers

import (
	"testing"
	"time"
)

func TestValidCountry(t *testing.T) {
	for code, want := range map[string]bool{
		"DE": true, "GB": true, "US": true, "AX": true, "SS": true, "BQ": true, "ZW": true,
		"UK": false, "EU": false, "XK": false, "de": false, "DEU": false, "": false, "D1": false,
	} {
		if got := ValidCountry(code); got != want {
			t.Errorf("ValidCountry(%q) = %v, want %v", code, got, want)
		}
	}
	if n := len(Countries()); n != 249 {
		t.Fatalf("got %d countries, want the 249 assigned ISO 3166-1 codes", n)
	}
}

func TestCheckEmail(t *testing.T) {
	for email, ok := range map[string]bool{
		"ada@example.com": true, "first.last+tag@sub.example.co.uk": true, "o'brien@example.ie": true,
		"": false, "plain": false, "a@b": false, "a@.com": false, "a@b.": false, "a@b..com": false,
		"Ada <ada@example.com>": false, "a b@example.com": false, "@example.com": false,
	} {
		if got := checkEmail(email) == ""; got != ok {
			t.Errorf("checkEmail(%q) ok = %v, want %v (%s)", email, got, ok, checkEmail(email))
		}
	}
}

func TestApplyPatchVersions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := newCustomer(CreateInput{Name: "Ada", Email: "ada@example.com", Country: "gb"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	var p Patch
	p.Country.Set, p.Country.Value = true, "GB" // same value, other case: no change
	next, changed, err := applyPatch(c, p, t0.Add(time.Hour))
	if err != nil || changed || next.Version != 1 || !next.UpdatedAt.Equal(t0) {
		t.Fatalf("same-value patch: got %+v changed=%v err=%v; want unchanged version 1", next, changed, err)
	}
	p.Name.Set, p.Name.Value = true, "Ada King"
	next, changed, err = applyPatch(c, p, t0.Add(time.Hour))
	if err != nil || !changed || next.Version != 2 || !next.UpdatedAt.Equal(t0.Add(time.Hour)) || !next.CreatedAt.Equal(t0) {
		t.Fatalf("real patch: got %+v changed=%v err=%v; want version 2", next, changed, err)
	}
}

func FuzzNewCustomer(f *testing.F) {
	f.Add("Ada", "ada@example.com", "gb")
	f.Add("", "a@b", "XX")
	f.Add("\x00", "\"quoted\"@example.com", "de ")
	f.Fuzz(func(t *testing.T, name, email, country string) {
		c, err := newCustomer(CreateInput{Name: name, Email: email, Country: country}, time.Unix(0, 0))
		if err != nil {
			return
		}
		if c.Name == "" || !ValidCountry(c.Country) || checkEmail(c.Email) != "" || c.Version != 1 {
			t.Fatalf("accepted invalid customer %+v", c)
		}
	})
}
