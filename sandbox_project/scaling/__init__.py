"""Tasks for the scaling-out notebook (06): work of different shapes for several workers."""
