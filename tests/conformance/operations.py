"""Every operation each connector calls, as its description names it.

The conformance layer checks each call the suite makes; this list is what
the suite must make. At the end of a whole-suite run (CI), an operation here
that no test exercised fails the run, and so does an operation called that
is not here: a connector's new call is added on purpose, and a call no test
reaches cannot hide. Paths are the descriptions' own templates.
"""

from __future__ import annotations

CALLED: dict[str, frozenset[tuple[str, str]]] = {
    "google": frozenset(
        {
            ("GET", "/accounts/v1/accounts"),
            ("POST", "/accounts/v1/accounts/{accountsId}/users"),
            ("PATCH", "/accounts/v1/accounts/{accountsId}/users/me:verifySelf"),
            ("DELETE", "/accounts/v1/accounts/{accountsId}/users/{usersId}"),
            ("GET", "/accounts/v1/accounts/{accountsId}/users/{usersId}"),
            ("PATCH", "/accounts/v1/accounts/{accountsId}/users/{usersId}"),
            ("POST", "/customers/{customer_id}/customerClientLinks:mutate"),
            ("POST", "/customers/{customer_id}/customerManagerLinks:mutate"),
            ("POST", "/customers/{customer_id}/googleAds:search"),
            ("GET", "/customers:listAccessibleCustomers"),
            ("GET", "/oauth2/v2/userinfo"),
            ("GET", "/tagmanager/v2/accounts"),
            ("GET", "/tagmanager/v2/accounts/{accountsId}/containers"),
            ("GET", "/tagmanager/v2/accounts/{accountsId}/user_permissions"),
            ("POST", "/tagmanager/v2/accounts/{accountsId}/user_permissions"),
            (
                "DELETE",
                "/tagmanager/v2/accounts/{accountsId}/user_permissions/{user_permissionsId}",
            ),
            ("PUT", "/tagmanager/v2/accounts/{accountsId}/user_permissions/{user_permissionsId}"),
            ("POST", "/token"),
            ("GET", "/v1/accounts"),
            ("GET", "/v1/accounts/{accountsId}/invitations"),
            ("POST", "/v1/accounts/{accountsId}/invitations/{invitationsId}:accept"),
            ("POST", "/v1/accounts/{accountsId}/invitations/{invitationsId}:decline"),
            ("GET", "/v1/accounts/{accountsId}/locations"),
            ("GET", "/v1/locations/{locationsId}/admins"),
            ("POST", "/v1/locations/{locationsId}/admins"),
            ("DELETE", "/v1/locations/{locationsId}/admins/{adminsId}"),
            ("PATCH", "/v1/locations/{locationsId}/admins/{adminsId}"),
            ("GET", "/v1alpha/accountSummaries"),
            ("GET", "/v1alpha/accounts/{accountsId}/accessBindings"),
            ("POST", "/v1alpha/accounts/{accountsId}/accessBindings"),
            ("DELETE", "/v1alpha/accounts/{accountsId}/accessBindings/{accessBindingsId}"),
            ("PATCH", "/v1alpha/accounts/{accountsId}/accessBindings/{accessBindingsId}"),
            ("GET", "/v1alpha/properties/{propertiesId}/accessBindings"),
            ("POST", "/v1alpha/properties/{propertiesId}/accessBindings"),
            ("DELETE", "/v1alpha/properties/{propertiesId}/accessBindings/{accessBindingsId}"),
            ("PATCH", "/v1alpha/properties/{propertiesId}/accessBindings/{accessBindingsId}"),
            ("GET", "/webmasters/v3/sites"),
        }
    ),
    "linkedin": frozenset(
        {
            ("POST", "/accessToken"),
            ("GET", "/adAccountUsers"),
            ("DELETE", "/adAccountUsers/(account:{account},user:{user})"),
            ("GET", "/adAccountUsers/(account:{account},user:{user})"),
            ("PUT", "/adAccountUsers/(account:{account},user:{user})"),
            ("GET", "/adAccounts/{id}"),
            ("GET", "/me"),
            ("GET", "/organizationAcls"),
            (
                "PUT",
                "/organizationAcls/(organization:{organization},role:{role},roleAssignee:{roleAssignee})",
            ),
            ("GET", "/organizations/{id}"),
        }
    ),
    "meta": frozenset(
        {
            ("GET", "/access_token"),
            ("DELETE", "/act_{ad_account_id}/agencies"),
            ("POST", "/act_{ad_account_id}/agencies"),
            ("GET", "/me"),
            ("GET", "/me/adaccounts"),
            ("GET", "/me/business_users"),
            ("GET", "/me/permissions"),
            ("DELETE", "/{ads_pixel_id}/agencies"),
            ("POST", "/{ads_pixel_id}/agencies"),
            ("GET", "/{business_id}/client_ad_accounts"),
            ("GET", "/{business_id}/client_instagram_assets"),
            ("GET", "/{business_id}/client_pages"),
            ("GET", "/{business_id}/client_pixels"),
            ("GET", "/{business_id}/client_product_catalogs"),
            ("GET", "/{business_id}/owned_ad_accounts"),
            ("GET", "/{business_id}/owned_instagram_assets"),
            ("GET", "/{business_id}/owned_pages"),
            ("GET", "/{business_id}/owned_pixels"),
            ("GET", "/{business_id}/owned_product_catalogs"),
            ("GET", "/{business_id}/pending_client_ad_accounts"),
            ("GET", "/{business_id}/pending_client_pages"),
            ("DELETE", "/{instagram_business_asset_id}/agencies"),
            ("POST", "/{instagram_business_asset_id}/agencies"),
            ("GET", "/{page_id}"),
            ("DELETE", "/{page_id}/agencies"),
            ("POST", "/{page_id}/agencies"),
            ("DELETE", "/{product_catalog_id}/agencies"),
            ("POST", "/{product_catalog_id}/agencies"),
        }
    ),
    "pinterest": frozenset(
        {
            ("GET", "/ad_accounts"),
            ("GET", "/ad_accounts/{ad_account_id}/conversion_tags"),
            ("GET", "/ad_accounts/{ad_account_id}/conversion_tags/page_visit"),
            ("GET", "/boards"),
            ("GET", "/businesses/employers"),
            ("PATCH", "/businesses/invites"),
            ("GET", "/businesses/{business_id}/assets"),
            ("GET", "/businesses/{business_id}/invites"),
            ("POST", "/businesses/{business_id}/invites"),
            ("DELETE", "/businesses/{business_id}/partners/assets"),
            ("PATCH", "/businesses/{business_id}/partners/assets"),
            ("GET", "/businesses/{business_id}/partners/{partner_id}/assets"),
            ("GET", "/catalogs"),
            ("POST", "/oauth/token"),
            ("GET", "/user_account"),
        }
    ),
    "tiktok": frozenset(
        {
            ("GET", "/bc/asset/get/"),
            ("GET", "/bc/get/"),
            ("POST", "/bc/partner/add/"),
            ("POST", "/bc/partner/asset/delete/"),
            ("GET", "/bc/partner/asset/get/"),
            ("GET", "/bc/partner/get/"),
            ("POST", "/oauth2/access_token/"),
        }
    ),
}
