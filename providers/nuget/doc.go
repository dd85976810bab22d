// Package nuget is the NuGet v3 feed provider: source "nuget" reads a
// feed through its service index (search for id globs, the flat container
// for versions and packages, registrations for listed state, publish time
// and packageHash), destination "nuget" pushes with PackagePublish/2.0.0
// and reads back from the flat container. Versions order the way NuGet
// orders them (CompareVersions), which the source type declares so that
// retention ranks NuGet versions the way NuGet does.
package nuget
