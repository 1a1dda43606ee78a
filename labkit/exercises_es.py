"""The exercises' Spanish half: each exercise's task, hint and explanations, and the phrases a check says.

Why a module of its own: :mod:`labkit.exercises` holds the exercises as data and the code that checks them,
in English (the course's source language). What a Spanish learner reads instead is data too, kept here
(as :mod:`labkit.catalogue_es` does for the error catalogue) so the checking code stays one readable page.
Exercise ids, sslmode values, setting names, file names and catalogue keys stay verbatim in both editions.

:data:`EXERCISES` holds, per exercise id, its ``task``, ``hint`` and ``why_right`` in Spanish, and under
``if_wrong`` the sentence (per probe label) that explains a connection that should have been refused.
:data:`PHRASES` maps each English phrase of a check (probe labels, notes, sentence frames with ``{named}``
fields) to its Spanish wording; :func:`labkit.exercises` picks one or the other by
:func:`labkit.i18n.current_language`.
"""
from __future__ import annotations

__all__ = ["EXERCISES", "PHRASES"]

EXERCISES: dict[str, dict[str, object]] = {
    "E0.1": {
        "task": "Escriba una cadena de conexión (palabras clave de libpq) para conssl que nunca hable con esta "
                "base de datos sin TLS.",
        "hint": "p. ej. 'sslmode=... user=conssl'; los archivos se nombran como en la PKI del laboratorio "
                "(root.crt, combined.crt ...)",
        "why_right": "libpq rechazó el servidor sin TLS y conectó con TLS al que sí lo tiene",
        "if_wrong": {"server with TLS off": (
            "el cliente cayó a una conexión en texto plano (sin cifrar): 'disable', 'allow' y 'prefer' aceptan "
            "un servidor que no ofrece TLS; 'require' y los modos verify lo rechazan")},
    },
    "E0.2": {
        "task": "El servidor presenta solo su certificado hoja; un cliente confía solo en root.crt. Escriba el "
                "parámetro de postgresql.conf que hace funcionar verify-full para ese cliente.",
        "hint": "una línea 'nombre = valor'; los valores de archivo son nombres de la PKI, como 'server.crt'",
        "why_right": "ahora el servidor envía su hoja junto con la CA intermedia, así que un cliente que solo "
                     "tiene la CA raíz puede construir la cadena de certificados",
    },
    "E1.1": {
        "task": "Escriba una línea de pg_hba.conf que deje entrar a conssl por TCP solo con TLS y su contraseña.",
        "hint": "TYPE DATABASE USER ADDRESS METHOD, p. ej. 'host all conssl 127.0.0.1/32 md5' (esa no es)",
        "why_right": "la línea hostssl coincidió con la conexión TLS; la de texto plano no encontró ninguna línea",
        "if_wrong": {"conssl, no TLS": (
            "una línea 'host' coincide con conexiones TCP con y sin TLS; solo las líneas 'hostssl' coinciden "
            "únicamente con conexiones TLS")},
    },
    "E1.2": {
        "task": "Escriba el parámetro de postgresql.conf que rechaza a todo cliente que no sepa hablar TLS 1.3.",
        "hint": "una línea 'nombre = valor', p. ej. ssl_..._protocol_version = 'TLSv1.x'",
        "why_right": "el cliente TLS 1.2 fue rechazado durante la negociación TLS (handshake); el cliente "
                     "TLS 1.3 entró",
        "if_wrong": {"client limited to TLS 1.2": (
            "un cliente que se detiene en TLS 1.2 completó igualmente la negociación TLS: el protocolo mínimo "
            "(ssl_min_protocol_version) está por debajo de TLSv1.3")},
    },
    "E1.3": {
        "task": "La autenticación por certificado está activa; la CA intermedia incluye revoked-client.crt en "
                "su lista de revocación. Escriba el parámetro que hace que el servidor lo rechace mientras "
                "client.crt sigue entrando.",
        "hint": "una línea 'nombre = valor'; la PKI del laboratorio tiene root.crl, intermediate.crl y "
                "combined.crl",
        "why_right": "la lista de revocación (CRL) cubre todas las CA de la cadena: la hoja revocada falló y la "
                     "válida pasó",
        "if_wrong": {"revoked-client.crt": (
            "se aceptó el certificado revocado: el servidor no tiene ninguna CRL que lo incluya")},
    },
    "E1.4": {
        "task": "El servidor debe aceptar certificados de cliente emitidos por la CA intermedia del laboratorio "
                "(el cliente envía solo su hoja). Escriba el parámetro ssl_ca_file.",
        "hint": "una línea 'nombre = valor'; la PKI del laboratorio tiene root.crt, intermediate.crt y "
                "combined.crt",
        "why_right": "con la CA raíz y la CA intermedia el servidor pudo construir la cadena del cliente; el "
                     "certificado de la CA ajena no tiene cadena hasta ellas",
        "if_wrong": {"rogue-client.crt (a foreign CA)": (
            "se aceptó un certificado de una CA ajena al laboratorio")},
    },
    "E2.1": {
        "task": "Escriba una cadena de conexión para conssl que conecte al servidor real del laboratorio pero "
                "rechace a un impostor cuyo certificado, de la misma CA, nombra otro host.",
        "hint": "p. ej. 'sslmode=... sslrootcert=combined.crt user=conssl'",
        "why_right": "se comprobaron tanto la cadena de certificados como el nombre de host",
        "if_wrong": {"impostor: same CA, other host name": (
            "el cliente aceptó un certificado que nombra otro host: 'require' no comprueba nada y 'verify-ca' "
            "solo comprueba el emisor; 'verify-full' comprueba además el nombre")},
    },
    "E2.2": {
        "task": "El servidor autentica a conssl por certificado (pg_hba 'cert'). Escriba la cadena de conexión "
                "de conssl (no se envía contraseña).",
        "hint": "sslmode, sslrootcert, sslcert, sslkey y user; los archivos como se llaman en la PKI del "
                "laboratorio (client.crt ...)",
        "why_right": "el servidor verificó el certificado de conssl y su CN coincidió con el rol",
    },
    "E2.3": {
        "task": "El servidor confía en las CA del laboratorio para los certificados de cliente. Escriba la línea "
                "de pg_hba.conf que deja entrar a conssl solo con su certificado, y a nadie sin uno.",
        "hint": "las columnas de pg_hba.conf: TYPE DATABASE USER ADDRESS METHOD [OPTIONS]",
        "why_right": "el certificado bastó para autenticar a conssl; sin él, el servidor rechazó la conexión",
        "if_wrong": {"conssl with password, no certificate": (
            "conssl entró solo con su contraseña: la línea no exige certificado (método 'cert', o "
            "clientcert=verify-full en una línea con contraseña)")},
    },
    "E3.1": {
        "task": "Haga la rotación del certificado del servidor: que el servidor presente server2.crt (los "
                "clientes nuevos lo verifican con combined.crt). Escriba las líneas de postgresql.conf.",
        "hint": "una línea 'nombre = valor' por parámetro; un certificado y su clave privada van siempre juntos",
        "why_right": "la recarga tomó el certificado nuevo y su clave privada; las sesiones nuevas reciben "
                     "server2.crt",
    },
    "E3.2": {
        "task": "Han robado el portátil de conssl. Escriba respond(stolen_crt): los pasos que dejan fuera del "
                "servidor en marcha al certificado robado mientras el otro cliente sigue funcionando.",
        "hint": "def respond(stolen_crt): ... con lesson.pki y lk.apply(lesson.lab, ...)",
        "why_right": "la CA incluyó el certificado robado en su lista de revocación y el servidor hizo la "
                     "recarga de la CRL nueva",
        "if_wrong": {"the stolen certificate": "el certificado robado sigue conectando"},
    },
}
"""Per exercise id: the Spanish ``task``, ``hint``, ``why_right`` and ``if_wrong`` (probe label -> sentence)."""

PHRASES: dict[str, str] = {
    # ---- probe labels (what the check's table and sentences call each client) ---------------------------
    "server with TLS on": "servidor con TLS activado",
    "server with TLS off": "servidor con TLS desactivado",
    "client trusting only root.crt": "cliente que solo confía en root.crt",
    "conssl, TLS + password": "conssl, TLS + contraseña",
    "conssl, no TLS": "conssl, sin TLS",
    "client up to TLS 1.3": "cliente hasta TLS 1.3",
    "client limited to TLS 1.2": "cliente limitado a TLS 1.2",
    "client.crt": "client.crt",
    "revoked-client.crt": "revoked-client.crt",
    "client.crt (leaf only)": "client.crt (solo la hoja)",
    "rogue-client.crt (a foreign CA)": "rogue-client.crt (una CA ajena)",
    "the real server": "el servidor real",
    "impostor: same CA, other host name": "impostor: misma CA, otro nombre de host",
    "conssl by certificate": "conssl por certificado",
    "conssl with client.crt, no password": "conssl con client.crt, sin contraseña",
    "conssl with password, no certificate": "conssl con contraseña, sin certificado",
    "new client, verify-full": "cliente nuevo, verify-full",
    "the stolen certificate": "el certificado robado",
    "client.crt (not stolen)": "client.crt (no robado)",
    # ---- what else a refusal can mean in one exercise ---------------------------------------------------
    "If the line's address is 127.0.0.1/32: on the Docker backend clients arrive from the bridge's gateway, "
    "not from 127.0.0.1; use 0.0.0.0/0 (the server listens on loopback only either way).":
        "Si la dirección de la línea es 127.0.0.1/32: con el backend Docker los clientes llegan desde la "
        "puerta de enlace del bridge, no desde 127.0.0.1; use 0.0.0.0/0 (el servidor escucha solo en "
        "loopback en cualquier caso).",
    "Here it can also mean a CRL missing for one CA of the chain: before PostgreSQL 16 the server logs only "
    "'certificate verify failed' for both.":
        "Aquí también puede significar que falta la lista de revocación (CRL) de una CA de la cadena: antes "
        "de PostgreSQL 16 el log del servidor solo dice 'certificate verify failed' en ambos casos.",
    # ---- sentence frames of a verdict --------------------------------------------------------------------
    "RIGHT": "CORRECTO",
    "NOT YET": "AÚN NO",
    "right": "correcto",
    "not yet": "aún no",
    "{key} ({kind}): {task}\n  hint: {hint}": "{key} ({kind}): {task}\n  pista: {hint}",
    "connected ({tls})": "conecta ({tls})",
    "without TLS": "sin TLS",
    "refused ({message})": "rechazada ({message})",
    "no message": "sin mensaje",
    "refused: {key} -- {cause} Fix: {fix}": "rechazada: {key} -- {cause} Solución: {fix}",
    "{label} {how}, but must be refused: {why}.": "{label}: {how}, pero la conexión debía rechazarse: {why}.",
    "{label} must get in but was {how}": "{label}: debe entrar, pero la conexión fue {how}",
    "{seen}. Right: {why}.": "{seen}. Correcto: {why}.",
    "no answer yet. {task} (hint: {hint})": "aún no hay respuesta. {task} (pista: {hint})",
    "labkit did not write this answer: {message}": "labkit no escribió esta respuesta: {message}",
    "the server refused the change and kept its previous configuration (rolled back: {rolled_back}): "
    "{reason}.": "el servidor rechazó el cambio y mantuvo su configuración anterior (revertido: "
                 "{rolled_back}): {reason}.",
    " The catalogue: {key} -- {cause} Fix: {fix}": " El catálogo de errores: {key} -- {cause} Solución: {fix}",
    "a new handshake is served {served}, not {expected}.":
        "una negociación TLS (handshake) nueva recibe {served}, no {expected}.",
    "respond() raised {error}: {message}": "respond() lanzó {error}: {message}",
    "The CA lists it as revoked (pki.revoke), but the server still reads its old copy of the CRL: deliver the "
    "new combined.crl and reload (apply layer_crl again).":
        "La CA lo incluye como revocado (pki.revoke), pero el servidor sigue leyendo su copia antigua de la "
        "lista de revocación (CRL): entregue el combined.crl nuevo y haga una recarga (aplique layer_crl de "
        "nuevo).",
    "The CA does not list it as revoked: nothing called pki.revoke on it.":
        "La CA no lo incluye como revocado: nada llamó a pki.revoke sobre él.",
    "{key}: not checked": "{key}: sin comprobar",
    "{left} of {total} exercises of part {part} not solved: {said}":
        "{left} de {total} ejercicios de la parte {part} sin resolver: {said}",
    "change the answer cells and run the notebook again":
        "cambie las celdas de respuesta y vuelva a ejecutar el cuaderno",
    "all {total} exercises of part {part} are right": "los {total} ejercicios de la parte {part} son correctos",
}
"""English phrase (or sentence frame with ``{named}`` fields) -> its Spanish wording."""
