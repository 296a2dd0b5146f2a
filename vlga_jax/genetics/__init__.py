"""Gene tables, genomes (padded int32 arrays with masks) and pure genetic operators."""
