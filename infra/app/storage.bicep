// The function app's storage: AzureWebJobsStorage (reached by identity) and the blob container
// Flex Consumption deploys the app package to. Shared keys are off.
param name string
param location string
param tags object
param deploymentContainerName string

@description('Principal id of the app\'s managed identity.')
param identityPrincipalId string

@description('Object id of the deploying user; empty to skip.')
param userPrincipalId string

@description('Kind of userPrincipalId: User or ServicePrincipal.')
param userPrincipalType string

var roles = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
]

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

var assignments = flatten(map(roles, role => map(principals, principal => {
  roleId: role
  principalId: principal.id
  principalType: principal.type
})))

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource dataRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for assignment in assignments: {
    name: guid(storage.id, assignment.principalId, assignment.roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', assignment.roleId)
      principalId: assignment.principalId
      principalType: assignment.principalType
    }
  }
]

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentContainer.name
