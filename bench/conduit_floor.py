"""E6's hand-written floor: Conduit's article list with Starlette, an asyncpg pool and one SQL statement.

It answers `GET /api/articles?limit=&offset=` for a signed-in caller with exactly the bytes the Conduit
example sends: the page, newest first, each article with its tag list, the caller's favorited flag,
its favorites count and its author with the caller's following flag, and the count of every article.
It does what a correct hand-written endpoint must: the token's signature, expiry and type are checked
(and cached until expiry), and the caller's account and sign-in session are checked in the same
statement. Run by the harness as `uvicorn bench.conduit_floor:app --workers 2`.
"""

from __future__ import annotations

import time
import uuid

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.floor import _SECRET, INT4_MAX, health, lifespan, ts

_callers: dict[str, tuple[float, int, str, uuid.UUID]] = {}

# The page's articles, then one correlated subquery per computed field (each an index lookup).
E6_SQL = f"""
WITH page AS (SELECT * FROM articles ORDER BY created_at DESC, id LIMIT $2 OFFSET $3)
SELECT json_build_object('articles', coalesce((SELECT json_agg(json_build_object(
    'slug', p.slug, 'title', p.title, 'description', p.description, 'body', p.body,
    'tagList', (SELECT coalesce(json_agg(t.name ORDER BY t.name), '[]'::json)
                FROM article_tags at JOIN tags t ON t.id = at.tag_id WHERE at.article_id = p.id),
    'createdAt', {ts("p.created_at")}, 'updatedAt', {ts("p.updated_at")},
    'favorited', EXISTS (SELECT FROM favorites f WHERE f.article_id = p.id AND f.user_id = $1),
    'favoritesCount', (SELECT count(*) FROM favorites f WHERE f.article_id = p.id),
    'author', json_build_object('username', u.username, 'bio', u.bio, 'image', u.image,
        'following', EXISTS (SELECT FROM follows fo WHERE fo.followed_id = u.id AND fo.follower_id = $1))
    ) ORDER BY p.created_at DESC, p.id) FROM page p JOIN users u ON u.id = p.author_id), '[]'::json),
    'articlesCount', (SELECT count(*) FROM articles))
WHERE EXISTS (SELECT FROM users me WHERE me.id = $1 AND me.is_active AND me.role = $4
    AND EXISTS (SELECT FROM refresh_tokens s WHERE s.family_id = $5 AND s.user_id = me.id
                AND s.revoked_at IS NULL))
"""


def _problem(status: int, message: str) -> Response:
    return Response(f'{{"errors":{{"body":["{message}"]}}}}', status, media_type="application/json")


def _caller(request: Request) -> tuple[int, str, uuid.UUID] | None:
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else ""
    cached = _callers.get(token)
    if cached is not None and time.time() < cached[0]:
        return cached[1:]
    try:
        claims = jwt.decode(token, _SECRET, algorithms=["HS256"], options={"require": ["exp", "sub", "sid"]})
    except jwt.InvalidTokenError:
        return None
    if claims.get("typ") != "access":
        return None
    caller = (int(claims["sub"]), str(claims["role"]), uuid.UUID(str(claims["sid"])))
    if len(_callers) > 4096:
        _callers.clear()
    _callers[token] = (float(claims["exp"]), *caller)
    return caller


async def list_articles(request: Request) -> Response:
    """E6: a page of articles for the signed-in caller."""
    caller = _caller(request)
    if caller is None:
        return _problem(401, "Not authenticated")
    q = request.query_params
    try:
        limit, offset = int(q.get("limit", "20")), int(q.get("offset", "0"))
    except ValueError:
        return _problem(422, "limit and offset are integers")
    if not 0 <= limit <= 500 or not 0 <= offset <= INT4_MAX:
        return _problem(422, "limit or offset out of range")
    user_id, role, session = caller
    async with request.app.state.pool.acquire() as conn:
        body = await conn.fetchval(E6_SQL, user_id, limit, offset, role, session)
    if body is None:
        return _problem(401, "The session has ended")
    return Response(body.encode(), media_type="application/json")


app = Starlette(
    routes=[Route("/health", health), Route("/api/articles", list_articles, methods=["GET"])],
    lifespan=lifespan,
)
