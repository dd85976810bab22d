// Command s3put is the bench's "aws s3 cp"-style peer for the S3 scenario:
// it uploads the files of a list with aws-sdk-go-v2's upload manager
// (feature/s3/manager), as `aws s3 cp` does with botocore's transfer
// manager, FILES files at a time and CONCURRENCY parts in flight per file,
// with the SDK's default request checksums. It verifies nothing: it is
// the plain upload a script would do.
//
//	s3put -endpoint URL -bucket B -list FILE (-from URL | -dir DIR) [-files 4] [-concurrency 2] [-part-size-mib 8]
//
// -from streams each file from an HTTP server into the upload (curl URL |
// aws s3 cp - s3://B/NAME); -dir uploads local files (aws s3 cp
// --recursive DIR s3://B/). Credentials: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY; region us-east-1, path-style addressing.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	bucket := flag.String("bucket", "", "bucket")
	list := flag.String("list", "", "file with lines NAME SHA256 SIZE")
	from := flag.String("from", "", "HTTP base URL to stream each NAME from")
	dir := flag.String("dir", "", "directory to upload each NAME from")
	files := flag.Int("files", 4, "files uploaded at a time")
	conc := flag.Int("concurrency", 2, "parts in flight per file")
	partMiB := flag.Int64("part-size-mib", 8, "part size, and the multipart threshold")
	flag.Parse()
	if err := run(context.Background(), *endpoint, *bucket, *list, *from, *dir, *files, *conc, *partMiB<<20); err != nil {
		fmt.Fprintln(os.Stderr, "s3put:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, endpoint, bucket, list, from, dir string, files, conc int, partSize int64) error {
	if endpoint == "" || bucket == "" || list == "" || (from == "") == (dir == "") {
		return errors.New("want -endpoint, -bucket, -list and one of -from or -dir")
	}
	names, err := readNames(list)
	if err != nil {
		return err
	}
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		UsePathStyle: true,
	})
	// The uploader ferry's s3 destination uses too (deprecated in favour
	// of feature/s3/transfermanager; see providers/s3/store.go).
	//lint:ignore SA1019 see above
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = partSize
		u.Concurrency = conc
	})
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(files)
	for _, name := range names {
		g.Go(func() error {
			var body io.Reader
			if from != "" {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, from+"/"+name, nil)
				if err != nil {
					return err
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("GET %s: %s", name, resp.Status)
				}
				body = resp.Body
			} else {
				f, err := os.Open(filepath.Join(dir, name))
				if err != nil {
					return err
				}
				defer f.Close()
				body = f
			}
			//lint:ignore SA1019 see NewUploader
			if _, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &name, Body: body}); err != nil {
				return fmt.Errorf("upload %s: %w", name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func readNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, _, _ := strings.Cut(sc.Text(), " "); name != "" {
			names = append(names, name)
		}
	}
	return names, sc.Err()
}
