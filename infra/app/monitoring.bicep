// Log Analytics and Application Insights with local auth off: telemetry is accepted only from an
// identity holding Monitoring Metrics Publisher, so the connection string alone grants nothing.
param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object

@description('Principal id of the app\'s managed identity.')
param identityPrincipalId string

@description('Object id of the deploying user; empty to skip.')
param userPrincipalId string

@description('Kind of userPrincipalId: User or ServicePrincipal.')
param userPrincipalType string

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

var principals = concat(
  [
    {
      id: identityPrincipalId
      type: 'ServicePrincipal'
    }
  ],
  empty(userPrincipalId)
    ? []
    : [
        {
          id: userPrincipalId
          type: userPrincipalType
        }
      ]
)

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

resource publishers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principal in principals: {
    name: guid(applicationInsights.id, principal.id, monitoringMetricsPublisher)
    scope: applicationInsights
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
      principalId: principal.id
      principalType: principal.type
    }
  }
]

output applicationInsightsName string = applicationInsights.name
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
output logAnalyticsName string = logAnalytics.name
