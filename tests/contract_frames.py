"""Small hand-written tables that keep the data contract (one per table), for the tests.

Written out by hand rather than derived from ``dmkit.schema.COLUMNS`` so that a test
using them checks the schema against an independent statement of the contract.
"""
from __future__ import annotations

import pandas as pd

T = pd.Timestamp


def users() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [1, 2, 3],
        "province": ["jiangsu"] * 3,
        "prefecture": ["nanjing", "suzhou", "wuxi"],
        "brand": ["gotone", "mzone", "easyown"],
        "age": [35, 19, 52],
        "gender": ["M", "F", "M"],
        "tenure_months": [60, 8, 120],
        "student": [False, True, False],
        "term_mms": [True, True, False],
        "term_wap": [True, True, False],
        "term_java": [True, False, False],
        "term_fetion": [False, True, False],
        "preferred_channel": ["hall", "sms", "wap"],
    })


def usage() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [1, 1, 2, 3],
        "month": ["2009-05", "2009-06", "2009-06", "2009-06"],
        "arpu": [180.5, 175.0, 42.3, 18.0],
        "voice_minutes": [600.0, 580.0, 120.0, 35.5],
        "call_days": [30, 29, 18, 7],
        "local_incoming_calls": [140, 133, 40, 9],
        "sms_p2p": [40, 35, 420, 3],
        "sms_contacts": [12, 11, 37, 2],
        "sms_fee": [4.0, 3.5, 30.1, 0.3],
        "monternet_sms": [3, 2, 14, 0],
        "mms": [1, 0, 6, 0],
        "gprs_kb": [2048.0, 1500.0, 9000.0, 0.0],
        "wap_visits": [5, 3, 48, 0],
        "recharges": [0, 0, 2, 1],
        "complaints": [0, 1, 0, 0],
        "crbt_changes": [0, 0, 3, 0],
        "music_downloads": [0, 1, 7, 0],
    })


def subscriptions() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [1, 2, 2],
        "service": ["newspaper", "crbt", "fetion"],
        "start": [T("2009-01-10"), T("2009-03-02 10:30"), T("2009-06-01")],
        "end": [pd.NaT, T("2009-05-20"), pd.NaT],
        "channel": ["sms", "wap", "web"],
        "source": ["organic", "JS-2009-03-crbt", "organic"],
    })


def kpis() -> pd.DataFrame:
    return pd.DataFrame({
        "region": ["nanjing", "nanjing", "suzhou"],
        "service": ["crbt", "crbt", "crbt"],
        "month": ["2009-05", "2009-06", "2009-06"],
        "penetration": [0.31, 0.32, 0.28],
        "revenue_share": [0.05, 0.052, 0.04],
        "usage_per_user": [1.2, 1.3, 0.9],
        "retention": [0.93, 0.94, 0.9],
        "activity": [0.6, 0.62, 0.55],
        "growth": [0.01, 0.03, -0.02],
        "loyalty": [0.5, 0.52, 0.47],
    })


def contacts() -> pd.DataFrame:
    return pd.DataFrame({
        "campaign_id": ["JS-2009-06-wc"] * 3,
        "user_id": [1, 2, 3],
        "step": [1, 1, 1],
        "service": ["newspaper"] * 3,
        "group": ["target", "target", "control"],
        "sent_at": [T("2009-06-05 09:00"), T("2009-06-05 09:00"), pd.NaT],
        "delivered": [True, True, False],
        "replied_at": [T("2009-06-05 09:40"), pd.NaT, pd.NaT],
        "reply_valid": [True, False, False],
        "subscribed_at": [T("2009-06-05 09:41"), pd.NaT, pd.NaT],
        "unsubscribed_at": [pd.NaT, pd.NaT, pd.NaT],
    })


def edges() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [1, 1, 2],
        "peer_id": [2, 900001, 1],
        "month": ["2009-06"] * 3,
        "sms": [5, 0, 9],
        "calls": [3, 1, 0],
    })


def events() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [2, 2, 3],
        "ts": [T("2009-06-01 12:00"), T("2009-06-02 08:15"), T("2009-06-03 20:00")],
        "content_id": [101, 102, 7],
        "genre": ["pop", "classic", "news"],
        "channel": ["wap", "wap", "sms"],
        "sp_id": ["SP001", "SP002", "SP001"],
    })


def revenue() -> pd.DataFrame:
    return pd.DataFrame({
        "month": ["2009-05", "2009-05", "2009-06"],
        "line": ["operating", "data_vas", "operating"],
        "amount": [1.2e9, 2.1e8, 1.25e9],
    })


FRAMES = {
    "users": users, "usage": usage, "subscriptions": subscriptions, "kpis": kpis,
    "contacts": contacts, "edges": edges, "events": events, "revenue": revenue,
}


def frame(table: str) -> pd.DataFrame:
    """A fresh valid frame of ``table``."""
    return FRAMES[table]()
