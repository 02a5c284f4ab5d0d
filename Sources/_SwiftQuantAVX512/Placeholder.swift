// AVX-512 element-wise kernels (see Package.swift): filled in by the element-wise work.
