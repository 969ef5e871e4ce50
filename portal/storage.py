from django.core.files.storage import FileSystemStorage


class PrivateFileSystemStorage(FileSystemStorage):
    """Media on the local disk with no public URL: files are served by views that check access."""

    def url(self, name):
        raise NotImplementedError(
            "media is private: serve it through a view that checks who is asking"
        )
