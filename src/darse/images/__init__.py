"""Images: build them versioned and labelled (`build`), push them (`push`), keep them in a private
registry (`registry`: the HTTP API v2 client, users, the registry's service folder) and see what they
really contain (`inspect`). Every Docker call goes through `darse.engine`."""
