"""The vocabulary of the data contract: brands, services, channels, genres.

Service and channel codes are short English ids; the original Chinese terms are
kept in :data:`SERVICE_NAMES` so an analyst can map a BI extract onto them.

These are the simulator's catalog, the default one. An operator with its own product,
channel or brand codes supplies a catalog YAML: :func:`load_catalog`, :func:`use_catalog`,
:func:`active_catalog` (see :mod:`dmkit.contract.catalog_yaml`); the contract's code
columns are then checked against it and the methods take its codes.
"""
from __future__ import annotations

BRANDS: tuple[str, ...] = ("gotone", "mzone", "easyown")
"""GoTone (全球通, high-end), M-Zone (动感地带, youth), Easyown (神州行, mass market)."""

GENDERS: tuple[str, ...] = ("M", "F")

SERVICE_NAMES: dict[str, str] = {
    "sms_p2p": "P2P SMS (点对点短信)",
    "mms": "MMS (彩信)",
    "crbt": "Colour ring-back tone (彩铃)",
    "music": "Wireless music (无线音乐)",
    "music_club": "Wireless music club membership (音乐俱乐部)",
    "full_song": "Full-song downloads (整曲下载)",
    "ringtone": "Ringtone downloads (振铃下载)",
    "newspaper": "Mobile newspaper (手机报)",
    "local_paper": "Local edition of the mobile newspaper (地方手机报)",
    "fetion": "Fetion messenger (飞信)",
    "fetion_client": "Fetion PC/phone client (飞信客户端)",
    "mailbox": "Mobile mailbox (139 邮箱)",
    "mail_notify": "Mail notification (随e邮)",
    "securities": "Mobile securities (手机证券)",
    "wap": "WAP browsing (WAP 上网)",
    "monternet_sms": "Monternet SMS subscriptions (梦网短信)",
    "monternet_mms": "Monternet MMS subscriptions (梦网彩信)",
    "kjava_games": "KJava games (百宝箱)",
    "game_together": "Play-together game (一起玩吧)",
    "ivr": "IVR voice services (语音杂志)",
    "secretary": "Secretary service (小秘书)",
    "gprs_package": "GPRS data package (GPRS 套餐)",
    "mobile_tv": "Mobile TV (手机电视)",
    "mobile_video": "Mobile video (手机视频)",
    "mobile_map": "Mobile map and location (手机地图)",
    "mobile_payment": "Mobile payment (手机支付)",
    "mobile_reading": "Mobile reading (手机阅读)",
    "weather": "Weather SMS (天气预报)",
    "news_sms": "News SMS (新闻短信)",
    "sports_news": "Sports news (体育资讯)",
    "english": "English learning (英语学习)",
    "contacts_backup": "Address-book backup (号簿管家)",
    "missed_call": "Missed-call alert (来电提醒)",
    "caller_id": "Caller display (来电显示)",
    "family_plan": "Family number plan (亲情号码)",
}
SERVICES: tuple[str, ...] = tuple(SERVICE_NAMES)
"""The 35 service codes."""

CHANNELS: tuple[str, ...] = (
    "sms", "ivr", "web", "wap", "hall", "hotline", "outbound", "wap_push",
    "ussd", "kiosk", "topup", "retail", "campus", "sp_push", "queue",
)
"""Sales and contact channels: G3's 11 channels (:data:`G3_CHANNELS`) plus IVR, WAP browsing,
campus and SP-initiated push.

``sp_push`` is the only channel not initiated by the user or the operator: an SP
ordering a service for a user (the "unauthorised ordering" of case M). New codes are
appended, so the integer codes of the simulator's tables stay the same."""

G3_CHANNELS: tuple[str, ...] = (
    "outbound", "hotline", "web", "sms", "wap_push", "ussd", "kiosk", "topup", "hall", "queue", "retail",
)
"""Case G3's eleven channels, in the deck's order: electronic — outbound calls (外呼), 10096 inbound
(10096呼入), web (网站), SMS (短信), WAP push, USSD, self-service terminals (业务体验办理终端),
over-the-air top-up (空中充值); physical — service halls (服务厅), queue machines (排队机),
six-star retail (6星级社会渠道)."""

USER_INITIATED_CHANNELS: tuple[str, ...] = tuple(c for c in CHANNELS if c not in ("sp_push", "outbound"))

GENRES: tuple[str, ...] = (
    "pop", "classic", "local", "greeting", "diy",
    "news", "sports", "travel", "entertainment", "leisure",
)
"""Content genres: the five CRBT content preferences of Y4, then the newspaper topics of Y6."""

REVENUE_LINES: tuple[str, ...] = ("operating", "new_business", "data_vas", "promo")
"""Revenue lines of case G1 (yuan): operating revenue, new-business revenue, data VAS
revenue, and the promotional-package part of data VAS revenue."""

CONTACT_GROUPS: tuple[str, ...] = ("target", "control")

_OPERATOR_CATALOG = ("Catalog", "load_catalog", "use_catalog", "active_catalog", "simulator_catalog")
"""The operator's catalog (codes, names, groups from a YAML file): :mod:`dmkit.contract.catalog_yaml`.
The codes above are the simulator's catalog, the default one."""


def __getattr__(name: str):
    """``dm.catalog.load_catalog`` and friends, from :mod:`dmkit.contract.catalog_yaml` (imported
    on first use: that module reads this one's codes)."""
    if name in _OPERATOR_CATALOG:
        from dmkit.contract import catalog_yaml

        return getattr(catalog_yaml, name)
    raise AttributeError(f"module 'dmkit.catalog' has no attribute {name!r}")
