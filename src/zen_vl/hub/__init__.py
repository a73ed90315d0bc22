"""The Hub: repo names, model cards from measured results, the upload plan and the upload."""
