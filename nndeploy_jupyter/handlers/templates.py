"""Read-only templates: ``template``, ``template/dir``, ``template/{id}``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schemas import JsonObject, TemplateSummary
from .base import ApiHandler
from .openapi import Operation


class TemplateListHandler(ApiHandler):
    spec = {"get": Operation("List templates (id, name_, desc_, cover_, requirements_, category_)",
                             result=list[TemplateSummary])}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        items = await self.services.templates.list()
        self.ok(items, f"{len(items)} templates loaded")


class TemplateCategoriesHandler(ApiHandler):
    spec = {"get": Operation("List template categories", result=list[str])}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(await self.services.templates.categories(), "template categories")


class TemplateHandler(ApiHandler):
    spec = {"get": Operation("The JSON of one template, by id or by name_ (as POST queue accepts it)",
                             result=JsonObject, errors=(404,))}

    @web.authenticated
    @authorized
    async def get(self, template_id: str) -> None:
        templates = self.services.templates
        self.ok(await templates.get(await templates.find(template_id)), "template load response")


ROUTES = [
    ("template", TemplateListHandler),
    ("template/dir", TemplateCategoriesHandler),
    (r"template/(?P<template_id>[^/]+)", TemplateHandler),
]
