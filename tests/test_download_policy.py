

async def test_the_checked_address_is_the_one_connected_to(origin, tmp_path: Path, monkeypatch):  # noqa: F811
    """DNS rebinding: a name that resolves to a public address when checked, then to 127.0.0.1. The download
    resolves once and connects to the address it checked (127.0.0.2 stands in for the public one)."""
    host, seen = origin
    answers = iter(["127.0.0.2"])
    real_resolve, real_check = socket.getaddrinfo, downloads._not_public

    def rebinding(name, port, *args, **kwargs):
        address = next(answers, "127.0.0.1") if name == "rebind.example" else name
        return real_resolve(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(downloads, "_not_public", lambda a: None if a == "127.0.0.2" else real_check(a))
    public = ThreadingHTTPServer(("127.0.0.2", 0), type("Public", (Origin,), {"seen": [], "dropped": set()}))
    threading.Thread(target=public.serve_forever, daemon=True).start()
    service, _ = service_alone(tmp_path, DownloadPolicy())
    try:
        await service.fetch_for_graph("t-rebind", {"other_url_": [
            f"http@rebind.example:{public.server_address[1]}/files/data.bin"]})
    finally:
        public.shutdown()
        public.server_close()
    assert (service.workspace.folder("others") / "data.bin").read_bytes() == DATA
    assert seen == []  # the loopback origin (what a second resolution gives) was never reached
