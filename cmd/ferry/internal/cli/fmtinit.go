package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/state"
)

func (a *app) newFmtCommand() *cobra.Command {
	var check, showDiff bool
	cmd := &cobra.Command{
		Use:   "fmt",
		Short: "Rewrite *.ferry.hcl files in the canonical format",
		Long: `Fmt rewrites the working directory's *.ferry.hcl files in the canonical
layout and lists the files it changed. With -check it changes nothing and exits
3 when a file needs formatting.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, err := hclFiles(".")
			if err != nil {
				return err
			}
			unformatted := 0
			for _, name := range files {
				src, err := os.ReadFile(name)
				if err != nil {
					return err
				}
				out := config.FormatFile(src)
				if bytes.Equal(src, out) {
					continue
				}
				unformatted++
				fmt.Fprintln(a.streams.Out, name)
				if showDiff {
					a.raw.Out.Write(diff.Diff("old/"+name, src, "new/"+name, out))
				}
				if !check {
					if err := state.WriteFileAtomic(name, out, 0o644); err != nil {
						return err
					}
				}
			}
			if check && unformatted > 0 {
				return silent(ExitFmt)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "change nothing; exit 3 if any file needs formatting")
	cmd.Flags().BoolVar(&showDiff, "diff", false, "print the changes as a unified diff")
	return cmd
}

const starterConfig = `# ferry configuration. Docs: docs/config.md
#
# ferry plan     shows what would be transferred and deleted
# ferry apply    does it, verifying every byte

ferry {
  state       = "ferry.state.json"
  parallelism = 8
}

# Where the upstream files are served from; set with -var, -var-file or
# FERRY_VAR_upstream.
variable "upstream" {
  type    = string
  default = "http://127.0.0.1:8080"
}

source "http" "tools" {
  artifact "hello" {
    url     = "${var.upstream}/hello-1.0.0.txt"
    sha256  = "0000000000000000000000000000000000000000000000000000000000000000" # replace with the real digest
    version = "1.0.0"
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "tools" {
  from = source.http.tools
  to   = destination.dir.local

  retention {
    keep_last   = 3
    max_deletes = 10
  }
}
`

func (a *app) newInitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter configuration (main.ferry.hcl)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, err := hclFiles(".")
			if err != nil {
				return err
			}
			if len(files) > 0 {
				fmt.Fprintf(a.streams.Out, "Found %s: ferry is already configured here; nothing written.\n", files[0])
				return nil
			}
			name := filepath.Join(".", "main.ferry.hcl")
			if err := os.WriteFile(name, []byte(starterConfig), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Out, "Wrote %s. Edit it, then run ferry plan.\n", name)
			return nil
		},
	}
}
