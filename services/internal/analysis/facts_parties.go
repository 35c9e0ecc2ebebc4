package analysis

import (
	"regexp"
	"strings"
	"unicode"
)

var (
	partySepRe = regexp.MustCompile(`(?i);\s*(?:and\s+)?|\)\s*,?\s+and\s+|,\s+and\s+|\s+and\s+(?:[A-Z][A-Za-z]*\s+){0,1}(?:[A-Z]{2,}|[A-Z][a-z]+\s+(?:Inc|LLC|Ltd|Corp|Corporation|Company|Limited))`)
	plainAndRe = regexp.MustCompile(`\s+and\s+`)
	// "Party A: Beijing ... Co., Ltd." (agreements translated from Chinese)
	partyLabelRe = regexp.MustCompile(`(?i)\b(Party\s+[A-D]|Licensor|Licensee|Seller|Buyer|Supplier|Customer|Distributor|Company|Consultant|Contractor|Client|Manufacturer)\s*[:：]\s*([A-Z][^\n;:]{2,100}?)(?:\s*[,(]|\s+(?:Address|Registered|Legal|Domicile|Tel|Add)\b|\s{2,}|$)`)
	nameTailRe   = regexp.MustCompile(`(?i)\s*,?\s*(?:a|an)\s+(?:[A-Z][a-z]+\s+)*(?:corporation|company|limited|partnership|organi[sz]ed|incorporated|existing|formed|national|banking|association)\b.*$`)
)

// roleWords are defined terms that name a party's role, never the party.
var roleWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`company companies consultant contractor licensor licensee licensors licensees distributor distributors supplier
		customer client manufacturer seller buyer purchaser vendor agent agency bank party parties franchisee franchisor developer
		provider sponsor reseller promoter partner partners member members employee employer owner operator lessor lessee tenant landlord
		lender borrower guarantor contractor subcontractor publisher producer affiliate investor shareholder shareholders trust
		fund adviser advisor servicer administrator transferor transferee assignor assignee holder holders recipient discloser we us you
		collaborator institution university hospital hotel`) {
		roleWords[w] = true
	}
}

// parties reads the preamble "... between A, a Delaware corporation
// ("A"), and B ("Buyer")." and returns each party once: its name as the
// preamble writes it, its role (a defined term that is not a short form of
// the name) and its short name.
func parties(d *factDoc) []Party {
	headLen := min(len(d.norm), 6000)
	h := d.norm[:headLen]
	var out []Party
	if loc := partiesRe.FindStringIndex(h); loc != nil {
		b0 := loc[1]
		body := h[b0:min(len(h), b0+1200)]
		if e := partiesEnd.FindStringIndex(body); e != nil {
			body = body[:e[0]]
		}
		segs := splitAt(body, partySepRe)
		if len(segs) < 2 {
			segs = splitAt(body, plainAndRe)
			if len(segs) > 2 {
				segs = [][2]int{segs[0], {segs[1][0], len(body)}}
			}
		}
		for _, sg := range segs {
			seg := body[sg[0]:sg[1]]
			p, ok := partyFrom(d, b0+sg[0], seg)
			if ok {
				out = mergeParty(out, p)
			} else if len(out) > 0 && out[len(out)-1].Role == "" {
				// a segment holding only the previous party's defined term
				if r := roleOf(seg, out[len(out)-1].Name); r != "" {
					out[len(out)-1].Role = r
				}
			}
			if len(out) >= 8 {
				break
			}
		}
	}
	if len(out) < 2 {
		out = corpParties(d, h, out)
	}
	if len(out) < 2 {
		for _, m := range partyLabelRe.FindAllStringSubmatchIndex(h, 6) {
			name := strings.TrimSpace(h[m[4]:m[5]])
			if !looksLikeName(name) {
				continue
			}
			out = mergeParty(out, Party{Name: name, Role: normSpaceKeep(h[m[2]:m[3]]), Source: d.source(m[4], m[4]+len(name))})
		}
	}
	return out
}

var enumMarkRe = regexp.MustCompile(`^(?:\((?:[a-h]|[ivx]{1,4}|\d{1,2})\)|(?:[a-h]|\d{1,2})[.)])\s+`)

var corpNameRe = regexp.MustCompile(`\b((?:(?:[A-Z][\w&'’.\-/]*|of|and|&|de|du|la|for)\s+){0,7}[A-Z][\w&'’.\-/]*,?\s+(?:Inc|LLC|Ltd|Limited|LIMITED|Corp|Corporation|CORPORATION|Company|COMPANY|Co|L\.P|LP|B\.V|BV|GmbH|AG|S\.A|N\.V|PLC|plc|Incorporated|INC|LTD|L\.L\.C|Trust|TRUST|S\.p\.A|Pty)\b\.?)`)

// corpParties finds parties outside a "between ... and ..." preamble:
// company names ("Aduro Biotech, Inc.") followed by their defined term
// ("("Aduro")", "("Consultant")"), else the first company names of the
// text.
func corpParties(d *factDoc, h string, out []Party) []Party {
	lim := h[:min(len(h), 3000)]
	ms := corpNameRe.FindAllStringSubmatchIndex(lim, 12)
	var bare []Party
	for i, m := range ms {
		name := strings.TrimSpace(lim[m[2]:m[3]])
		for trimmed := true; trimmed; {
			trimmed = false
			for _, p := range []string{"this ", "the ", "by ", "and ", "between ", "of ", "for ", "& ", "de ", "la ", "du "} {
				if len(name) > len(p) && strings.EqualFold(name[:len(p)], p) {
					name, trimmed = name[len(p):], true
				}
			}
		}
		if i := strings.LastIndex(strings.ToLower(name), "agreement "); i >= 0 {
			name = strings.TrimSpace(name[i+len("agreement "):]) // a title run into the name
		}
		if !looksLikeName(name) || strings.Contains(strings.ToLower(name), "agreement") || len(strings.Fields(name)) < 2 {
			continue
		}
		if pre := strings.ToLower(lim[max(0, m[2]-4):m[2]]); strings.HasSuffix(pre, " a ") || strings.HasSuffix(pre, " an ") {
			continue // "a Florida corporation"
		}
		if q := lim[max(0, m[2]-2):m[2]]; strings.ContainsAny(q, "\"“'") {
			continue // a defined term in quotes ("KI Inc."), not a name
		}
		next := len(lim)
		if i+1 < len(ms) {
			next = ms[i+1][0]
		}
		after := lim[m[3]:min(next, m[3]+80)]
		if j := strings.IndexAny(after, ";"); j >= 0 {
			after = after[:j]
		}
		off := m[2] + strings.Index(lim[m[2]:m[3]], name)
		p := Party{Name: name, Role: roleOf(after, name), Short: shortOf(after, name), Source: d.source(off, off+len(name))}
		if p.Role != "" || p.Short != "" {
			out = mergeParty(out, p)
		} else {
			bare = append(bare, p)
		}
	}
	for _, p := range bare {
		if len(out) >= 2 {
			break
		}
		out = mergeParty(out, p)
	}
	return out
}

// splitAt returns the ranges of s between matches of sep.
func splitAt(s string, sep *regexp.Regexp) [][2]int {
	var out [][2]int
	last := 0
	for _, m := range sep.FindAllStringIndex(s, -1) {
		out = append(out, [2]int{last, m[0]})
		last = m[1]
	}
	return append(out, [2]int{last, len(s)})
}

// partyFrom reads one party description starting at norm offset off.
func partyFrom(d *factDoc, off int, seg string) (Party, bool) {
	lead := len(seg) - len(strings.TrimLeft(seg, " ,;:\"“”'"))
	seg2 := seg[lead:]
	for _, p := range []string{"the following parties:", "the parties listed below:", "the following:", "and ", "by and between ", "between ", "among ", "the undersigned ", "by ", "and: "} {
		if len(seg2) >= len(p) && strings.EqualFold(seg2[:len(p)], p) {
			seg2, lead = seg2[len(p):], lead+len(p)
		}
		t := len(seg2) - len(strings.TrimLeft(seg2, " "))
		seg2, lead = seg2[t:], lead+t
		if m := enumMarkRe.FindString(seg2); m != "" { // "(a) Kathy Ireland, Inc."
			seg2, lead = seg2[len(m):], lead+len(m)
		}
	}
	name := leadingName(seg2)
	name = nameTailRe.ReplaceAllString(name, "")
	name = strings.TrimRight(strings.TrimSpace(name), " ,;:\"“”'")
	if !looksLikeName(name) {
		return Party{}, false
	}
	p := Party{Name: name, Role: roleOf(seg2, name), Short: shortOf(seg2, name)}
	p.Source = d.source(off+lead, off+lead+len(name))
	return p, true
}

// looksLikeName rejects role words, pronouns and fragments.
func looksLikeName(s string) bool {
	if len(s) < 2 || len(s) > 120 || len(strings.Fields(s)) > 12 {
		return false
	}
	l := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "the "), "The "))
	if roleWords[l] || roleWords[strings.TrimSuffix(l, "s")] {
		return false
	}
	switch l {
	case "as follows", "the following", "each of", "witnesseth", "recitals", "the", "each", "agreement", "collectively", "together", "parties", "the parties", "both parties", "two parties", "the following parties":
		return false
	}
	if junkNameRe.MatchString(s) {
		return false // a title or a heading run into the name
	}
	r := []rune(s)
	return unicode.IsUpper(r[0]) || unicode.IsDigit(r[0])
}

var junkNameRe = regexp.MustCompile(`(?i)\b(?:agreement|exhibit|dated|whereas|witnesseth|page)\b`)

// leadingName returns the entity name at the start of a party description:
// words up to the first comma or parenthesis, keeping corporate suffixes
// ("Adams Golf, Ltd.").
func leadingName(seg string) string {
	end := len(seg)
	if i := strings.Index(seg, "“"); i >= 0 {
		end = i
	}
	for i := 0; i < end; i++ {
		c := seg[i]
		if c == '(' || c == '"' {
			end = i
			break
		}
		if c == ',' {
			rest := strings.TrimSpace(seg[i+1:])
			if corpSuffix.MatchString(rest) {
				continue
			}
			end = i
			break
		}
	}
	name := strings.TrimSpace(seg[:end])
	if len(strings.Fields(name)) > 10 {
		return ""
	}
	return name
}

// aliasesOf returns the defined terms in a party description.
func aliasesOf(seg string) []string {
	var out []string
	for _, m := range aliasRe.FindAllStringSubmatch(seg, -1) {
		a := strings.TrimSpace(m[1])
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// isShortForm reports whether alias abbreviates name: its words occur in
// the name ("Excite" of "Excite, Inc.") or it is the name's initials
// ("IBM").
func isShortForm(alias, name string) bool {
	a, n := nameKey(alias), nameKey(name)
	if a == "" || n == "" {
		return false
	}
	nw := strings.Fields(n)
	all := true
	for _, w := range strings.Fields(a) {
		found := false
		for _, x := range nw {
			if x == w || (len(w) >= 3 && strings.HasPrefix(x, w)) {
				found = true
				break
			}
		}
		all = all && found
	}
	if all {
		return true
	}
	var initials strings.Builder
	for _, w := range nw {
		initials.WriteByte(w[0])
	}
	return strings.ReplaceAll(a, " ", "") == initials.String() || strings.HasPrefix(initials.String(), strings.ReplaceAll(a, " ", "")) && len(a) >= 2
}

func roleOf(seg, name string) string {
	for _, a := range aliasesOf(seg) {
		if !isShortForm(a, name) && !strings.EqualFold(a, "Agreement") {
			return a
		}
	}
	return ""
}

func shortOf(seg, name string) string {
	for _, a := range aliasesOf(seg) {
		if isShortForm(a, name) && !strings.EqualFold(a, name) {
			return a
		}
	}
	return ""
}

var nameKeyStrip = regexp.MustCompile(`\b(inc|ltd|llc|l l c|corp|corporation|co|company|n a|l p|lp|llp|plc|s a|gmbh|ag|b v|limited|incorporated|pty|the|sa)\b`)

// nameKey normalises a company name for deduplication: lower case, letters
// and digits, no corporate suffixes.
func nameKey(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return ' '
	}, s)
	s = nameKeyStrip.ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(s), " ")
}

// mergeParty adds p unless it names a party already listed ("Excite" after
// "Excite, Inc."), in which case the fuller name and any role are kept.
func mergeParty(ps []Party, p Party) []Party {
	k := nameKey(p.Name)
	if k == "" {
		return ps
	}
	for i, q := range ps {
		qk := nameKey(q.Name)
		if qk == k || strings.HasPrefix(qk, k+" ") || strings.HasPrefix(k, qk+" ") || strings.EqualFold(q.Short, p.Name) || strings.EqualFold(q.Role, p.Name) {
			if len(p.Name) > len(q.Name) && !strings.EqualFold(q.Role, p.Name) && !strings.EqualFold(q.Short, p.Name) {
				q.Name, q.Source = p.Name, p.Source
			}
			if q.Role == "" {
				q.Role = p.Role
			}
			if q.Short == "" {
				q.Short = p.Short
			}
			ps[i] = q
			return ps
		}
	}
	return append(ps, p)
}
