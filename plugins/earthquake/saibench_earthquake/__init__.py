"""Earthquake-nowcasting stand-in: an ETAS catalogue simulator and the fortnightly gridding."""
