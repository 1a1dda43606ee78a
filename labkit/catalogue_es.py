"""The error catalogue's Spanish half: the Spanish server wordings it recognises, and causes and fixes in Spanish.

Why a module of its own: :mod:`labkit.catalogue` is the table of keys, English patterns and English texts;
what changes for a Spanish reader or a server that logs in Spanish is data, kept here so the table stays
one readable page. Keys never change language.

:data:`SERVER_PATTERNS` holds, per key, the wording of PostgreSQL 15's Spanish message catalogue
(``es/LC_MESSAGES/postgres-15.mo``, read with :class:`gettext.GNUTranslations`, not guessed): the Spanish
server writes «...» where the English one writes "...". An entry whose server words are OpenSSL's
(``unsupported protocol``, ``sslv3 alert certificate revoked``, ``key values mismatch`` after the
translated head) or a message the catalogue does not translate (sslinfo's ``invalid X.509 field name``,
PostgreSQL 16's ``Client certificate verification failed at depth``) needs nothing: its English pattern
already matches the Spanish line. Where an entry's English patterns are the same on both ends (a FATAL the
client relays), the Spanish ones are too: the server sends the client its message in its own language.

:data:`TEXTS` holds each entry's cause and fix in Spanish (shown when ``i18n.current_language()`` is
``es``).
"""
from __future__ import annotations

__all__ = ["LABELS", "SERVER_PATTERNS", "TEXTS"]

_KEY_FILE = r"el archivo de la llave privada «[^»]*»"
_LOAD_KEY = r"no se pudo cargar el archivo de la llave privada «[^»]*»"
_NO_HBA = r"no hay una línea en pg_hba\.conf para «[^»]*», usuario «[^»]*», base de datos «[^»]*», "

SERVER_PATTERNS: dict[str, tuple[str, ...]] = {
    "protocol_range_invalid": (r"no se pudo definir el rango de versión de protocolo SSL",
                               r"«ssl_min_protocol_version» no puede ser más alto que «ssl_max_protocol_version»"),
    "protocol_setting_invalid": (r"valor no válido para el parámetro «ssl_(min|max)_protocol_version»",),
    "protocol_mismatch": (r"no se pudo aceptar una conexión SSL: (unsupported protocol|no protocols available|"
                          r"version too low)",),
    "key_permissions": (_KEY_FILE + r" tiene acceso para el grupo u otros",),
    "key_bad_decrypt": (_LOAD_KEY + r": (bad decrypt|processing error|wrong tag|bad password read|"
                        r"problems getting password)",),
    "key_needs_passphrase_at_reload": (r"no se puede volver a cargar porque requiere una contraseña",),
    "key_mismatch": (_LOAD_KEY + r": key values mismatch",),
    "server_cert_file_unreadable": (r"no se pudo cargar el archivo de certificado de servidor «[^»]*»",
                                    r"no se pudo (cargar el|acceder al) archivo de la llave privada «[^»]*»: "
                                    r"(No such file|No existe el (fichero|archivo))"),
    "clientcert_invalid": (r"valor no válido para el parámetro clientcert: «[^»]*»",
                           r"clientcert s[oó]lo acepta «verify-full»"),
    "hostssl_without_ssl": (r"el registro hostssl no puede coincidir porque SSL está deshabilitado",),
    "channel_binding_mismatch": (r"la verificación de enlazado \(binding\) de canal SCRAM falló",),
    "cert_auth_failed": (r"la autentificación (por|con) certificado falló para el usuario «[^»]*»",
                         r"el nombre de usuario entregado \([^)]*\) y el nombre de usuario autentificado "
                         r"\([^)]*\) no coinciden"),
    "direct_tls_unsupported": (r"el de paquete de inicio tiene largo incorrecto",),  # sic: PostgreSQL 15's msgstr
    "setting_unknown": (r"parámetro de configuración «\w+» no reconocido",),
    "tls13_setting_invalid": (r"ECDH: (nombre de curva no reconocida|no se pudo crear la llave)",),
    "no_shared_suite_or_group": (r"no se pudo aceptar una conexión SSL: (no shared cipher|no suitable key share|"
                                 r"no shared group)",),
    "usermap_no_match": (r"no hay coincidencia en el mapa «[^»]*» para el usuario «[^»]*» autentificado como",),
    "client_cert_required": (r"la conexión requiere un certificado de cliente válido",),
    "password_failed": (r"la autentificación password falló para el usuario «[^»]*»",),
    "no_hba_no_encryption": (_NO_HBA + r"sin cifrado",),
    "no_hba_ssl": (_NO_HBA + r"cifrado SSL",),
}
"""Spanish server wordings per catalogue key (PostgreSQL 15's catalogue), added to the entry's server
patterns (and to its client patterns where the English ones are the same on both ends)."""

TEXTS: dict[str, tuple[str, str]] = {
    "server_cert_revoked": (
        "El cliente comprueba el certificado del servidor contra una lista de revocación (CRL) (sslcrl/sslcrldir, "
        "crl en node) que lo incluye: es el cliente quien rechaza al *servidor*. El 'alert certificate revoked' "
        "del log del servidor es la alerta que envió el cliente, no un veredicto sobre un certificado de cliente.",
        "Emita un certificado nuevo para el servidor (ssl_cert_file/ssl_key_file) y haga una recarga; el revocado "
        "ya no sirve."),
    "server_cert_expired": (
        "El certificado del servidor pasó su fecha notAfter (o el reloj del cliente está mal): el cliente rechaza "
        "al *servidor*; el 'alert certificate expired' del log del servidor es la alerta del cliente.",
        "Renueve el certificado del servidor y haga una recarga (rotación, lección 32); revise los relojes."),
    "crl_missing": (
        "La comprobación de revocación está activa (ssl_crl_file/ssl_crl_dir) y al servidor le falta la CRL de una "
        "de las CA de la cadena del cliente; 'depth 1' es la CA intermedia, cuya CRL publica la CA raíz.",
        "Dé al servidor una CRL por cada CA de la cadena: ssl_crl_file = la CRL combinada (intermedia + raíz), o "
        "ambas en ssl_crl_dir; haga una recarga."),
    "cert_revoked": (
        "El certificado del cliente figura en la lista de revocación (CRL) que cargó el servidor.",
        "Emita un certificado nuevo (y su clave privada) para el cliente; el revocado no volverá a funcionar."),
    "cert_expired": (
        "El certificado del cliente pasó su fecha notAfter (o el reloj del servidor está mal).",
        "Emita un certificado de cliente nuevo y revise los relojes de ambas máquinas."),
    "unknown_ca": (
        "El servidor no logra construir una cadena de confianza desde el certificado del cliente hasta una CA de "
        "su ssl_ca_file: lo típico es que ssl_ca_file tenga solo la CA raíz y el certificado lo haya emitido la "
        "CA intermedia (o que venga de otra CA).",
        "Ponga raíz + intermedia en ssl_ca_file (el archivo combinado), o haga que el cliente envíe su cadena "
        "(sslcert = certificado de cliente + intermedia); haga una recarga. Un certificado de una CA ajena hay que "
        "reemplazarlo."),
    "cert_required_tls13": (
        "El servidor exige un certificado de cliente y el cliente no envió ninguno; con TLS 1.3 esta alerta llega "
        "después de la parte del cliente de la negociación TLS (handshake), en su primera lectura.",
        "Pase sslcert y sslkey (o deje postgresql.crt/postgresql.key en ~/.postgresql)."),
    "client_cert_not_requested": (
        "sslcertmode=require (libpq 16+) exige que intervenga un certificado de cliente. 'server did not request "
        "an SSL certificate': el servidor no tiene ssl_ca_file y nunca lo pide. 'server accepted connection "
        "without a valid SSL certificate': lo pidió, el cliente no tenía ninguno (sin sslcert) y la regla de "
        "pg_hba lo dejó entrar igual.",
        "Dé al cliente su certificado (sslcert/sslkey) y al servidor ssl_ca_file; haga que la regla lo exija "
        "(cert, o clientcert=verify-full). Quite sslcertmode=require solo si no se van a usar certificados."),
    "sslrootcert_system_weak": (
        "sslrootcert=system confía en todas las CA públicas del sistema operativo, por eso libpq (16+) lo permite "
        "solo con verify-full: con verify-ca valdría cualquier certificado que una CA pública emitiera a cualquiera.",
        "Use sslmode=verify-full con sslrootcert=system (o no indique sslmode: entonces vale verify-full), o "
        "apunte sslrootcert a la CA raíz del laboratorio."),
    "root_cert_missing": (
        "sslmode verify-ca/verify-full necesita un archivo de CA para comprobar al servidor y libpq no encontró "
        "ninguno (ni sslrootcert ni ~/.postgresql/root.crt).",
        "Pase sslrootcert=<root.crt del laboratorio> (o cópielo a ~/.postgresql/root.crt)."),
    "server_cert_no_name": (
        "verify-full no encontró ningún nombre en el certificado del servidor: ni entradas SAN dNSName/IP ni CN, "
        "así que no hay nada que comparar con el host.",
        "Emita para el servidor un certificado cuyo SAN incluya los nombres e IP que usan los clientes."),
    "hostname_mismatch": (
        "verify-full comprueba que el host indicado esté entre los nombres SAN (o el CN) del certificado, y no está.",
        "Conéctese con un nombre que figure en el certificado, o emita para el servidor un certificado cuyo SAN "
        "incluya el nombre de host o la IP que usan los clientes."),
    "client_crl_unusable": (
        "El cliente recibió una CRL (sslcrl/sslcrldir) y entonces necesita la de cada CA de la cadena del "
        "servidor; la que tiene es de otra CA (o falta una), así que no puede comprobar el certificado del "
        "servidor. libpq solo dice 'certificate verify failed': attempt() lo distingue de un servidor no "
        "confiable repitiendo el intento sin la CRL; node dice 'unable to get certificate CRL'.",
        "Dé al cliente la CRL de las CA del servidor (la combined.crl del laboratorio), o ninguna."),
    "server_chain_incomplete": (
        "El servidor envía solo su certificado final y el archivo de CA del cliente tiene solo la CA raíz, así que "
        "el cliente no encuentra la CA intermedia entre ambos (palabras de node; libpq dice 'certificate verify "
        "failed').",
        "Haga que el servidor envíe su cadena (ssl_cert_file = certificado del servidor + intermedia), o dé al "
        "cliente raíz + intermedia (combined.crt)."),
    "server_cert_untrusted": (
        "El cliente no confía en la CA que firmó el certificado del servidor (sslrootcert es otra CA, o el "
        "servidor no envía su intermedia). node precisa el caso: 'unable to get local issuer certificate' "
        "(ninguna CA de la cadena es de confianza), 'self-signed certificate in certificate chain' (el servidor "
        "envió también su raíz y el cliente confía en otra).",
        "Apunte sslrootcert a la CA raíz (o al archivo combinado) del laboratorio; haga que el servidor envíe su "
        "cadena (ssl_cert_file = certificado del servidor + intermedia). Si el cliente tenía sslcrl/sslcrldir, "
        "pruebe una vez sin ella: libpq describe igual una CRL de otra CA (attempt() hace ese segundo intento)."),
    "protocol_range_invalid": (
        "El protocolo mínimo es mayor que el máximo, así que ninguna versión queda permitida; el servidor conserva "
        "su configuración SSL anterior (el cliente ni siquiera intenta conectar).",
        "Deje ssl_min_protocol_version <= ssl_max_protocol_version (p. ej. TLSv1.2 y TLSv1.3); haga una recarga."),
    "protocol_setting_invalid": (
        "Un parámetro de versión de protocolo tiene un valor que no existe (p. ej. 'TLSv1.4', 'TLS1.2').",
        "Use TLSv1, TLSv1.1, TLSv1.2 o TLSv1.3 escritos exactamente así; haga una recarga."),
    "legacy_tls_seclevel": (
        "El servidor permite TLS 1.0/1.1 por ssl_min_protocol_version, pero el nivel de seguridad 1 de su "
        "OpenSSL 3 prohíbe las firmas SHA-1 que esas versiones necesitan, así que la negociación TLS falla igual.",
        "Mantenga TLS 1.0/1.1 desactivados (ssl_min_protocol_version = TLSv1.2). Solo para una demostración "
        "medida: ssl_ciphers = '...:@SECLEVEL=0'."),
    "protocol_mismatch": (
        "Cliente y servidor no tienen ninguna versión de TLS en común (p. ej. mínimo del servidor TLSv1.3, máximo "
        "del cliente TLSv1.2).",
        "Alinee los rangos: ssl_min/max_protocol_version del servidor y ssl_min_protocol_version/"
        "ssl_max_protocol_version del cliente deben solaparse (la meta es TLSv1.2-TLSv1.3 en ambos)."),
    "key_permissions": (
        "Una clave privada legible por el grupo u otros se rechaza: el servidor para ssl_key_file (al arrancar, o "
        "en la recarga, donde conserva la configuración SSL anterior), libpq para sslkey.",
        "chmod 600 a la clave y que su dueño sea la cuenta que la lee (la del servidor, o la suya); 0640 solo se "
        "acepta si el dueño es root."),
    "key_bad_decrypt": (
        "La clave privada está cifrada y la frase de paso dada (ssl_passphrase_command en el servidor, sslpassword "
        "en el cliente) es incorrecta o falta.",
        "Dé la frase de paso correcta (servidor: ssl_passphrase_command, más "
        "ssl_passphrase_command_supports_reload = on para la recarga; cliente: sslpassword), o use una clave sin "
        "cifrar con modo 0600."),
    "key_der_not_decrypted": (
        "La clave del cliente es un archivo DER (binario) cifrado. libpq la lee como PEM (con sslpassword) y luego "
        "como DER sin frase de paso, y reporta la palabra del lector PEM, 'unsupported', diga lo que diga "
        "sslpassword, aunque sea la correcta (medido con libpq 15 y 18 sobre OpenSSL 3). El archivo está bien; "
        "libpq no sabe descifrar DER.",
        "Convierta la clave a PEM (openssl pkey -in key.der -inform DER -out key.pem, cifrada o no) con modo 0600; "
        "una clave PEM cifrada se abre con sslpassword."),
    "key_needs_passphrase_at_reload": (
        "La clave del servidor está cifrada y no hay un ssl_passphrase_command utilizable en la recarga, así que "
        "la recarga conserva la configuración SSL anterior.",
        "Defina ssl_passphrase_command y ssl_passphrase_command_supports_reload = on, o haga un reinicio del "
        "servidor."),
    "key_mismatch": (
        "La clave privada no corresponde al certificado con el que se la empareja.",
        "Empareje cada certificado con su propia clave (ssl_cert_file/ssl_key_file, o sslcert/sslkey)."),
    "client_key_missing": (
        "libpq encontró un certificado de cliente pero ninguna clave junto a él (sslkey, o "
        "~/.postgresql/postgresql.key).",
        "Pase sslkey=<la clave de ese certificado> (modo 0600)."),
    "client_file_unreadable": (
        "sslcert/sslkey (o ~/.postgresql/postgresql.crt/.key) no es un certificado o una clave PEM que libpq pueda "
        "leer.",
        "Apunte sslcert/sslkey a los archivos PEM que emitió el laboratorio (certs/client.crt, private/client.key)."),
    "server_cert_file_unreadable": (
        "ssl_cert_file / ssl_key_file nombra un archivo que el servidor no puede leer (no existe, ruta equivocada "
        "o sin permiso).",
        "Deje el archivo donde apunta el parámetro (las rutas relativas son dentro del directorio de datos) y "
        "haga una recarga."),
    "clientcert_invalid": (
        "Desde PostgreSQL 14 clientcert acepta verify-ca o verify-full (los antiguos 1/0 ya no existen), y con "
        "'cert' solo verify-full; entonces pg_hba.conf entero no se vuelve a cargar (siguen las reglas viejas).",
        "Escriba clientcert=verify-full (o verify-ca con un método de contraseña); revise el log del servidor "
        "después de la recarga: en 15/16 pg_hba_file_rules no muestra texto de error para clientcert=1."),
    "hostssl_without_ssl": (
        "Se cargó una regla hostssl con ssl = off, así que ninguna conexión podrá usarla.",
        "Ponga ssl = on (con certificado y clave privada), o use reglas host/hostnossl."),
    "channel_binding_invalid": (
        "channel_binding acepta disable, prefer o require; libpq rechaza cualquier otro valor antes de conectar.",
        "Escriba channel_binding=require (el valor que defiende de un intermediario que reenvía la conexión)."),
    "channel_binding_not_offered": (
        "channel_binding=require necesita SCRAM-SHA-256-PLUS y el servidor pidió otra cosa: una regla "
        "password/md5, o SCRAM sin TLS (sin certificado al que atarse).",
        "Use una regla scram-sha-256 en una línea hostssl y conéctese con TLS (sslmode=require o más estricto)."),
    "channel_binding_not_used": (
        "channel_binding=require, pero el servidor dejó entrar al cliente sin SCRAM (trust, o autenticación por "
        "certificado): no se ató nada, así que libpq rechaza la sesión que recibió.",
        "Autentíquese con scram-sha-256 en una línea hostssl, o quite channel_binding=require donde el diseño es "
        "autenticar por certificado (el certificado ya prueba quién es el cliente)."),
    "channel_binding_mismatch": (
        "La prueba SCRAM del cliente está atada a un certificado TLS distinto del propio del servidor: algo entre "
        "ambos terminó TLS con otro certificado (un intermediario o un proxy).",
        "Conéctese directamente al servidor (o a un proxy que deje pasar TLS); con verify-full el certificado del "
        "intermediario se habría rechazado antes de la autenticación."),
    "direct_tls_weak_sslmode": (
        "sslnegotiation=direct empieza TLS sin preguntar, así que libpq (17+) lo rechaza con un modo que podría "
        "recurrir al texto plano (disable, allow, prefer); no se envía nada al servidor.",
        "Use sslmode=require, verify-ca o verify-full con sslnegotiation=direct (la meta es verify-full)."),
    "direct_tls_unsupported": (
        "El cliente empezó TLS directamente (sslnegotiation=direct) y el servidor es anterior a PostgreSQL 17: "
        "leyó el ClientHello como un paquete de inicio y cerró; el cliente solo ve un EOF.",
        "Actualice el servidor a 17+, o conéctese con sslnegotiation=postgres (el valor por defecto: primero el "
        "SSLRequest)."),
    "direct_tls_alpn": (
        "Un cliente de TLS directo (PostgreSQL 17+) no ofreció ALPN, u ofreció uno distinto de 'postgresql'; el "
        "servidor lo rechaza para que una conexión TLS pensada para otro protocolo (HTTPS...) no llegue a él.",
        "Use un cliente que envíe el ALPN postgresql (libpq 17+ lo hace); un proxy TLS delante debe dejar pasar "
        "el ALPN."),
    "setting_unknown": (
        "postgresql.conf nombra un parámetro que este servidor no tiene (por ejemplo ssl_tls13_ciphers y "
        "ssl_groups antes de 18); el servidor no aplica ninguno de los cambios del archivo.",
        "Quite la línea o use el parámetro de esta versión (ssl_ecdh_curve antes de 18); consulte "
        "pg_file_settings."),
    "tls13_setting_invalid": (
        "ssl_tls13_ciphers, ssl_groups o ssl_ecdh_curve nombra algo que el OpenSSL del servidor no puede usar (una "
        "errata, una lista antes de 18, X25519 en ssl_ecdh_curve); el servidor conserva su configuración SSL "
        "anterior.",
        "Use nombres de OpenSSL que conozca la compilación del servidor: TLS_AES_256_GCM_SHA384..., "
        "X25519:prime256v1; haga una recarga."),
    "no_shared_suite_or_group": (
        "Cliente y servidor no comparten ninguna suite de cifrado (por ejemplo, el servidor solo permite una "
        "suite CCM, que libpq no ofrece) ni ningún grupo de intercambio de claves (el ssl_groups del servidor y "
        "los grupos del cliente no coinciden).",
        "Mantenga una suite y un grupo que ofrezcan todos los clientes: TLS_AES_256_GCM_SHA384 y "
        "X25519:prime256v1."),
    "usermap_no_match": (
        "La regla de pg_hba nombra un mapa de usuarios (map=...) y pg_ident.conf no tiene ninguna línea de ese "
        "mapa que empareje el nombre del certificado (el CN, o el DN con clientname=DN) con el rol pedido, o el "
        "mapa ni siquiera existe. El cliente solo lee 'certificate authentication failed'.",
        "Añada el par a pg_ident.conf (una /expresión regular con \\1 para una familia de nombres) y haga una "
        "recarga; consulte pg_ident_file_mappings para ver las líneas del mapa y compruebe que el nombre del "
        "sistema está escrito como lo muestra el log."),
    "require_auth_failed": (
        "require_auth (libpq 16+) enumera los métodos que el cliente permite al servidor; el servidor pidió otro "
        "('server requested ...') o dejó entrar al cliente sin pedir nada ('did not complete authentication': "
        "trust, o cert, que require_auth no cuenta como método).",
        "Haga que la regla de pg_hba use un método de la lista (scram-sha-256 en hostssl) o amplíe la lista "
        "(por ejemplo scram-sha-256,none donde se esperan inicios de sesión con certificado)."),
    "require_auth_invalid": (
        "require_auth admite password, md5, gss, sspi, scram-sha-256 o none, cada uno negable con !; libpq "
        "rechaza cualquier otro valor (por ejemplo 'cert') antes de conectar.",
        "Escriba un método de esa lista; los certificados se exigen con sslcertmode=require, no con require_auth."),
    "cert_auth_failed": (
        "El método 'cert' (o clientcert=verify-full) compara el CN del certificado con el usuario pedido, y no "
        "coinciden.",
        "Conéctese con el usuario que nombra el CN del certificado, emita un certificado con CN = el rol, o "
        "relacione nombres con pg_ident.conf (map=...)."),
    "client_cert_required": (
        "La regla de pg_hba.conf que coincide ('cert', o clientcert=verify-ca/verify-full) necesita un "
        "certificado de cliente y el cliente no envió ninguno.",
        "Pase sslcert y sslkey con un certificado emitido por una CA del ssl_ca_file del servidor."),
    "password_failed": (
        "Contraseña incorrecta para ese rol (o el rol no tiene contraseña o no existe: el servidor no dice cuál, "
        "a propósito).",
        "Revise la contraseña (PGPASSWORD, passfile o password=) y que el rol exista con LOGIN."),
    "no_password": (
        "El servidor pidió una contraseña y el cliente no tenía ninguna que enviar.",
        "Indique una (passfile, PGPASSWORD o password=), o use una regla con el método 'cert' y un certificado "
        "de cliente."),
    "no_hba_no_encryption": (
        "La conexión llegó sin TLS y ninguna regla de pg_hba.conf acepta conexiones sin cifrar para ella (las "
        "reglas hostssl solo coinciden con conexiones TLS).",
        "Conéctese con sslmode=require o más estricto; añada una regla host/hostnossl solo si el texto plano "
        "(sin cifrar) está realmente permitido."),
    "no_hba_ssl": (
        "La conexión usó TLS y ninguna regla de pg_hba.conf acepta conexiones TLS para ella (solo coinciden "
        "reglas hostnossl, o ninguna para este usuario, base de datos o dirección).",
        "Añada una regla hostssl (o host) para este usuario, base de datos y dirección; haga una recarga."),
    "server_no_ssl": (
        "sslmode require/verify-* exige TLS y el servidor respondió 'N' a la petición SSL (ssl = off).",
        "Active ssl en el servidor (con certificado y clave privada) y haga una recarga; no rebaje el sslmode "
        "del cliente."),
    "x509_field_invalid": (
        "ssl_client_dn_field()/ssl_issuer_field() reciben un nombre de atributo X.509 (CN, O, OU, "
        "emailAddress...) y el dado no es uno que OpenSSL conozca.",
        "Use el nombre corto o largo tal como lo escribe OpenSSL, p. ej. ssl_client_dn_field('CN') o "
        "ssl_client_dn_field('commonName')."),
    "connection_closed": (
        "El servidor cerró la conexión sin mensaje de error; con TLS 1.3 así se puede ver un certificado de "
        "cliente rechazado en clientes antiguos (el servidor decidió después de la negociación TLS del cliente).",
        "Lea el log del servidor del mismo momento: nombra la razón real (p. ej. certificate verify failed)."),
    "server_unreachable": (
        "Nada aceptó la conexión TCP en ese host y puerto (servidor caído, puerto equivocado o cortafuegos).",
        "Compruebe que el laboratorio está en marcha (lab.status()) y use lab.host/lab.port."),
}
"""Cause and fix of every catalogue entry in Spanish, by key."""

LABELS: dict[str, str] = {
    "unknown": "no está en el catálogo de errores: lea el log del servidor del mismo momento (lab.log_since); "
               "suele nombrar la razón que no se le dijo al cliente",
    "seen": "reconocido en el", "client": "texto del cliente", "server log": "log del servidor",
    "cause": "causa", "fix": "solución", "guide": "guía"}
"""The words :class:`labkit.catalogue.Explanation` prints around an entry, in Spanish."""
