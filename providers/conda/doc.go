// Package conda will hold the conda channel provider (source and
// destination; it comes with its own issue). For now it holds only conda's
// version order, which the source type declares so that retention ranks
// conda versions the way conda does (issue 12).
package conda
