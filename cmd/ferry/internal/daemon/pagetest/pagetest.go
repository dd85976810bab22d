// Package pagetest reads ferry run's status page as tests check it: the
// mirror rows, the failures listed and the bars of the runs chart, from
// the HTML the server sent or the DOM a browser built.
package pagetest

import (
	"io"
	"strings"

	"golang.org/x/net/html"
)

// Page is what a status page shows.
type Page struct {
	// Rows are the text of each mirror's row, by mirror name.
	Rows map[string]string
	// Failures are the text of each failure listed.
	Failures []string
	// Bars counts the runs in the chart.
	Bars int
}

// Parse reads a status page.
func Parse(r io.Reader) (Page, error) {
	doc, err := html.Parse(r)
	if err != nil {
		return Page{}, err
	}
	p := Page{Rows: map[string]string{}}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch {
			case n.Data == "tr" && attr(n, "data-mirror") != "":
				p.Rows[attr(n, "data-mirror")] = text(n)
			case n.Data == "li" && attr(n, "class") == "failure":
				p.Failures = append(p.Failures, text(n))
			case n.Data == "rect" && strings.HasPrefix(attr(n, "class"), "r-"):
				p.Bars++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return p, nil
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
