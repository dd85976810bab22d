// Package nuget will hold the NuGet feed provider (it comes with its own
// issue). For now it holds only NuGet's version order, which the source
// type declares so that retention ranks NuGet versions the way NuGet does
// (issue 12).
package nuget
