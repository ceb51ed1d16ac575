"""Graph rewrites: the pass interface, registry, pipeline and front end; passes in rewrites/."""
