"""The operations that views, the API and jobs share: one function per verb."""
